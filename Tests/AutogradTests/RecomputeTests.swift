import XCTest
@testable import Autograd

/// ``recomputed(_:parameters:_:)``: the same values and gradients as recording the body, bit for bit,
/// without keeping the body's inside between forward and backward.
final class RecomputeTests: XCTestCase {
    /// A residual block shaped like a decoder layer's: `x` feeds a norm and the residual add, the normed
    /// `n` feeds three products (gradients summed over three uses), `x: [N, D]` → `[N, D]`.
    static func block(_ x: Tensor, _ norm: Tensor, _ w1: Tensor, _ w2: Tensor, _ w3: Tensor, _ out: Tensor) -> Tensor {
        let n = rmsNorm(x, weight: norm)                                                    // [N, D]
        let mixed = geluTanh(matmul(n, w1, transposeB: true)) * matmul(n, w2, transposeB: true)  // [N, F]
        return x + matmul(mixed, out, transposeB: true) + matmul(n, w3, transposeB: true)  // [N, D]
    }

    func random(_ shape: [Int], seed: Int) -> Tensor {
        let count = shape.reduce(1, *)
        let t = Tensor((0..<count).map { Float(sin(Double($0 * 7 + seed * 131) * 0.37)) * 0.5 }, shape: shape)
        t.requiresGrad = true
        return t
    }

    /// Two blocks in a row on the scaled output of a leaf, then a loss: forward values, the input's and
    /// every weight's gradient equal the recorded graph's exactly, whether recomputed or not.
    func testGradientsAreBitForBitTheRecordedOnes() {
        let (n, d, f) = (37, 24, 40)
        func run(recompute: Bool) -> (loss: Float, grads: [[Float]]) {
            let input = random([n, d], seed: 1)
            let weights = (0..<2).map { layer in
                [random([d], seed: 10 * layer + 2), random([f, d], seed: 10 * layer + 3), random([f, d], seed: 10 * layer + 4),
                 random([d, d], seed: 10 * layer + 5), random([d, f], seed: 10 * layer + 6)]
            }
            var h = input * 1.5
            for w in weights {
                let body = { (x: Tensor) in Self.block(x, w[0], w[1], w[2], w[3], w[4]) }
                h = recompute ? recomputed(h, parameters: w, body) : body(h)
            }
            let loss = sum(h * h)
            loss.backward()
            return (loss.item, [input.grad!.scalars] + weights.flatMap { $0.map { $0.grad!.scalars } })
        }
        let (recorded, replayed) = (run(recompute: false), run(recompute: true))
        XCTAssertEqual(replayed.loss.bitPattern, recorded.loss.bitPattern)
        for (i, (a, b)) in zip(recorded.grads, replayed.grads).enumerated() {
            XCTAssertEqual(b.map(\.bitPattern), a.map(\.bitPattern), "gradient \(i)")
        }
    }

    /// Forward keeps nothing of the body: its intermediate tensors are gone before backward, which runs
    /// the body a second time. Without gradients the body runs once and nothing is recorded.
    func testKeepsOnlyTheInputAndReplaysInBackward() {
        let x = random([5, 8], seed: 3), w = random([8, 8], seed: 4)
        var calls = 0
        weak var inside: Tensor?
        let y = recomputed(x, parameters: [w]) { x in
            calls += 1
            let product = matmul(x, w, transposeB: true)
            if calls == 1 { inside = product }
            return tanh(product)
        }
        XCTAssertNil(inside, "the body's intermediate outlived the forward pass")
        XCTAssertTrue(y.requiresGrad)
        XCTAssertEqual(calls, 1)
        sum(y).backward()
        XCTAssertEqual(calls, 2)
        XCTAssertNotNil(x.grad)
        XCTAssertNotNil(w.grad)

        let z = withNoGrad { recomputed(x, parameters: [w]) { x in calls += 1; return tanh(x) } }
        XCTAssertEqual(calls, 3)
        XCTAssertNil(z.node)
    }

    /// A frozen input (no gradient) still gives the weights theirs, and gets none itself.
    func testInputWithoutGradient() {
        let x = Tensor((0..<12).map { Float($0) / 12 }, shape: [3, 4]), w = random([4, 4], seed: 5)
        sum(recomputed(x, parameters: [w]) { matmul($0, w) }).backward()
        let direct = random([4, 4], seed: 5)
        sum(matmul(x, direct)).backward()
        XCTAssertNil(x.grad)
        XCTAssertEqual(w.grad!.scalars, direct.grad!.scalars)
    }
}
