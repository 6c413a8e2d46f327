import Autograd
import Datasets
import Foundation
import Gemma
import XCTest
@testable import Training

/// DPO against TRL and transformers (`Fixtures/make_dpo_reference.py`): the summed completion
/// log-probabilities of policy and reference, the sigmoid and IPO losses, and the sigmoid loss's gradient
/// with respect to three parameters (through the fused token log-probabilities, the tied embedding and the
/// whole model) on a tiny MQA Gemma.
final class DPOParityTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    struct Expected: Decodable {
        struct Pair: Decodable { let prompt: [Int32], chosen: [Int32], rejected: [Int32] }
        let beta: Float, pairs: [Pair]
        let policyLogps: [Float], referenceLogps: [Float]
        let sigmoidLoss: Float, ipoLoss: Float
        let gradients: [String: [Float]]
        let logpsByModel: [String: [Float]]
        enum CodingKeys: String, CodingKey {
            case beta, pairs, gradients
            case logpsByModel = "logps_by_model"
            case policyLogps = "policy_logps", referenceLogps = "reference_logps"
            case sigmoidLoss = "sigmoid_loss", ipoLoss = "ipo_loss"
        }
    }

    /// The summed completion log-probabilities of the same batch under the MQA, GQA and MHA parity models,
    /// within 1e-4 absolute of transformers + TRL's.
    func testSummedLogProbsOfEveryAttentionKind() throws {
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: Self.fixtures.appendingPathComponent("dpo/expected.json")))
        let pairs = expected.pairs.map { CompletionPair(prompt: $0.prompt, chosen: $0.chosen, rejected: $0.rejected) }
        let batch = CompletionBatch.make(pairs, padId: 0)
        XCTAssertEqual(Set(expected.logpsByModel.keys), ["mqa", "gqa", "mha"])
        for (name, logps) in expected.logpsByModel {
            let dir = Self.fixtures.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("GemmaTests/Fixtures/hf/\(name)")
            let model = try HuggingFaceDirectory.load(dir.path).model
            let ours = withNoGrad { model.sequenceLogProbs(ids: batch.ids, targets: batch.targets, batch: batch.rows) }
            for i in 0..<logps.count { XCTAssertEqual(ours.data[i], logps[i], accuracy: 1e-4, "\(name) sequence \(i)") }
        }
    }

    /// Tolerances: log-probabilities within 1e-4 relative (sums of a dozen Float32 log-softmax values
    /// around -3), losses within 1e-5, each gradient within 1e-5 of its largest magnitude.
    func testLogProbsLossesAndGradientsEqualTRL() throws {
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: Self.fixtures.appendingPathComponent("dpo/expected.json")))
        let policyDir = Self.fixtures.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("GemmaTests/Fixtures/hf/mqa").path
        let policy = try HuggingFaceDirectory.load(policyDir).model
        let reference = try HuggingFaceDirectory.load(Self.fixtures.appendingPathComponent("dpo/reference").path).model
        let pairs = expected.pairs.map { CompletionPair(prompt: $0.prompt, chosen: $0.chosen, rejected: $0.rejected) }
        let batch = CompletionBatch.make(pairs, padId: 0)

        let r = withNoGrad { reference.sequenceLogProbs(ids: batch.ids, targets: batch.targets, batch: batch.rows) }
        let pi = policy.sequenceLogProbs(ids: batch.ids, targets: batch.targets, batch: batch.rows)
        for i in 0..<(2 * pairs.count) {
            XCTAssertEqual(r.data[i], expected.referenceLogps[i], accuracy: 1e-4 * abs(expected.referenceLogps[i]), "reference \(i)")
            XCTAssertEqual(pi.data[i], expected.policyLogps[i], accuracy: 1e-4 * abs(expected.policyLogps[i]), "policy \(i)")
        }
        let ipo = withNoGrad { PreferenceLoss(kind: .ipo, beta: expected.beta)(policy: pi, reference: r.scalars, normalizer: pairs.count).loss }
        XCTAssertEqual(ipo.item, expected.ipoLoss, accuracy: 1e-5 * max(1, expected.ipoLoss))

        let sigmoid = PreferenceLoss(kind: .sigmoid, beta: expected.beta)(policy: pi, reference: r.scalars, normalizer: pairs.count).loss
        XCTAssertEqual(sigmoid.item, expected.sigmoidLoss, accuracy: 1e-5)
        policy.parameters.zeroGradients()
        sigmoid.backward()
        for (name, torchGradient) in expected.gradients {
            let ours = try XCTUnwrap(policy.parameters[name]?.grad, name).scalars
            XCTAssertEqual(ours.count, torchGradient.count, name)
            let scale = torchGradient.map(abs).max() ?? 0
            XCTAssertGreaterThan(scale, 0, name)
            let worst = zip(ours, torchGradient).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, 1e-5 * scale, "\(name): max-abs gradient difference \(worst) of \(scale)")
        }
    }
}
