import Autograd
import Foundation
import NN
import XCTest
@testable import Training

/// AdamW against PyTorch's `torch.optim.AdamW` trajectories (Fixtures/make_adamw.py): a decayed and a
/// non-decayed tensor, three steps; parameters agree within 1e-6 after every step.
final class AdamWTests: XCTestCase {
    struct Fixture: Decodable {
        struct Pair: Decodable { let w: [Float], n: [Float] }
        let lr: Float, beta1: Float, beta2: Float, eps: Float
        let weight_decay: Float
        let w: [Float], n: [Float]
        let grads: [Pair], steps: [Pair]
    }

    func testMatchesPyTorch() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/adamw.json")
        let f = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        let store = ParameterStore()
        store.add("w", shape: [f.w.count], decay: true)
        store.add("n", shape: [f.n.count], decay: false)
        store.finalize()
        store["w"]!.data.update(from: f.w, count: f.w.count)
        store["n"]!.data.update(from: f.n, count: f.n.count)
        let opt = AdamW(parameters: store, learningRate: f.lr, beta1: f.beta1, beta2: f.beta2, epsilon: f.eps,
                        weightDecay: f.weight_decay)
        for (grad, want) in zip(f.grads, f.steps) {
            store.gradients.data.update(from: grad.w + grad.n, count: store.count)
            opt.update(store)
            let got = store.values.scalars
            for (i, expected) in (want.w + want.n).enumerated() {
                XCTAssertEqual(got[i], expected, accuracy: 1e-6, "step \(opt.step) element \(i)")
            }
        }
    }
}
