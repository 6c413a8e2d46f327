import Foundation
import XCTest
@testable import Autograd

/// `tokenLogProbs`: per-row target log-probabilities fused with the output projection.
final class TokenLogProbsTests: XCTestCase {
    /// Finite differences of `Σ w ⊙ logp` (tolerances as for the cross-entropy: eps 1e-2,
    /// |analytic - numeric| <= 1e-3 + 1e-2 |numeric|), in one chunk and in ragged chunks with ignored rows.
    func testGradients() {
        var rng = TestRNG(seed: 11)
        let hidden = rng.tensor([3, 17]), weight = rng.tensor([5, 17])
        assertGradients([hidden, weight], eps: 1e-2, atol: 1e-3, rtol: 1e-2) {
            tokenLogProbs(hidden: hidden, weight: weight, targets: [2, -100, 4])
        }
        let h2 = rng.tensor([5, 11]), w2 = rng.tensor([29, 11])
        for cacheBytes in [crossEntropyLogitCacheBytes, 0] {
            assertGradients([h2, w2], eps: 1e-2, atol: 1e-3, rtol: 1e-2) {
                tokenLogProbs(hidden: h2, weight: w2, targets: [0, -100, 13, 28, -100], chunkSize: 12, logitCacheBytes: cacheBytes)
            }
        }
    }

    /// Values and gradients equal `logSoftmax(hidden · weightᵀ)` gathered at the targets (composed from
    /// primitive ops), with a random upstream gradient per row: within 1e-5 (values) and 2e-5 of the
    /// largest gradient.
    func testMatchesPrimitiveComposition() {
        var rng = TestRNG(seed: 12)
        let (n, d, v) = (24, 48, 200)
        let hidden = rng.tensor([n, d], -2, 2), weight = rng.tensor([v, d])
        var targets = (0..<n).map { _ in Int32(rng.next() % UInt64(v)) }
        targets[5] = ignoreIndex
        let upstream = (0..<n).map { _ in rng.uniform() - 0.5 }
        var pick = [Float](repeating: 0, count: n * v)
        for (r, t) in targets.enumerated() where t != ignoreIndex { pick[r * v + Int(t)] = 1 }
        let gathered = sum(logSoftmax(matmul(hidden, weight, transposeB: true)) * Tensor(pick, shape: [n, v]), axis: 1)  // [N]
        sum(gathered * Tensor(upstream, shape: [n])).backward()
        let (dHidden, dWeight) = (hidden.grad!.copy(), weight.grad!.copy())
        hidden.zeroGrad()
        weight.zeroGrad()

        let fused = tokenLogProbs(hidden: hidden, weight: weight, targets: targets, chunkSize: 64)
        for r in 0..<n { XCTAssertEqual(fused.data[r], gathered.data[r], accuracy: 1e-5 * max(1, abs(gathered.data[r])), "row \(r)") }
        XCTAssertEqual(fused.data[5], 0)
        sum(fused * Tensor(upstream, shape: [n])).backward()
        assertClose(hidden.grad!, dHidden, tol: 2e-5 * maxAbs(dHidden), "dHidden")
        assertClose(weight.grad!, dWeight, tol: 2e-5 * maxAbs(dWeight), "dWeight")
    }

    /// The summed log-probabilities are minus the cross-entropy's summed loss.
    func testIsMinusTheCrossEntropy() {
        var rng = TestRNG(seed: 13)
        let hidden = rng.tensor([9, 16]), weight = rng.tensor([70, 16])
        let targets: [Int32] = [1, 69, -100, 0, 33, 33, 2, -100, 50]
        let logp = withNoGrad { tokenLogProbs(hidden: hidden, weight: weight, targets: targets, chunkSize: 16) }
        let (ce, count) = withNoGrad { crossEntropy(hidden: hidden, weight: weight, targets: targets, normalizer: 1, chunkSize: 16) }
        XCTAssertEqual(count, 7)
        XCTAssertEqual(Double(logp.scalars.reduce(0, +)), -Double(ce.item), accuracy: 1e-5 * Double(abs(ce.item)))
    }
}
