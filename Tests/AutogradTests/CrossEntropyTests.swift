import Foundation
import XCTest
@testable import Autograd

final class CrossEntropyTests: XCTestCase {
    // MARK: finite differences

    /// Tolerances: `assertGradients` with eps = 1e-2 and |analytic - numeric| <= 1e-3 + 1e-2 |numeric|.
    /// The loss is smooth with O(1) logits here, so the central-difference truncation error is ~1e-5 and
    /// the Float32 rounding of the objective divided by 2 eps ~1e-5: the bound has a wide margin.
    func testGradientsOneChunk() {
        var rng = TestRNG(seed: 1)
        let hidden = rng.tensor([3, 17]), weight = rng.tensor([5, 17])  // N=3, D=17, V=5
        let targets: [Int32] = [2, -100, 4]
        assertGradients([hidden, weight], eps: 1e-2, atol: 1e-3, rtol: 1e-2) {
            crossEntropy(hidden: hidden, weight: weight, targets: targets).loss
        }
    }

    func testGradientsManyChunksRaggedLast() {
        var rng = TestRNG(seed: 2)
        // N=1, D=3, V=17, chunks of 4: 4, 4, 4, 4, 1 columns; the target sits in the one-column chunk.
        let hidden = rng.tensor([1, 3]), weight = rng.tensor([17, 3])
        assertGradients([hidden, weight], eps: 1e-2, atol: 1e-3, rtol: 1e-2) {
            crossEntropy(hidden: hidden, weight: weight, targets: [16], chunkSize: 4).loss
        }
        // N=5, D=11, V=29, chunks of 12 (12, 12, 5): rows long enough for the 8-lane loops plus tails,
        // targets in every chunk, two ignored rows, and a normaliser.
        let h2 = rng.tensor([5, 11]), w2 = rng.tensor([29, 11])
        assertGradients([h2, w2], eps: 1e-2, atol: 1e-3, rtol: 1e-2) {
            crossEntropy(hidden: h2, weight: w2, targets: [0, -100, 13, 28, -100], normalizer: 7, chunkSize: 12).loss
        }
    }

    /// Backward from logits kept in forward (the default at these sizes) and from logits recomputed
    /// chunk by chunk (`logitCacheBytes: 0`): the same gradients, accumulated into existing ones too.
    func testKeptAndRecomputedLogitsGiveTheSameGradients() {
        let targets: [Int32] = [0, -100, 13, 28, 5]
        var results: [[Float]] = []
        for cacheBytes in [crossEntropyLogitCacheBytes, 0] {
            var rng = TestRNG(seed: 9)  // the same inputs for both
            let h = rng.tensor([5, 11]), w = rng.tensor([29, 11])
            for _ in 0..<2 {  // the second pass accumulates
                crossEntropy(hidden: h, weight: w, targets: targets, normalizer: 7, chunkSize: 12,
                             logitCacheBytes: cacheBytes).loss.backward()
            }
            results.append(h.grad!.scalars + w.grad!.scalars)
        }
        for (a, b) in zip(results[0], results[1]) { XCTAssertEqual(a, b, accuracy: 1e-6) }
    }

    // MARK: against a Double reference

    /// Tolerances: loss within 1e-5 relative; each gradient within 1e-5 of the largest magnitude of the
    /// reference gradient (max-abs). The op runs in Float32 (sgemm over D, 8-lane exp of a few ulp); the
    /// reference computes logits, log-softmax and `(softmax - onehot) · W`, `(softmax - onehot)ᵀ · H` in Double.
    func testMatchesDoubleReference() {
        for (n, d, v, chunk) in [(6, 37, 53, 16), (33, 64, 300, 64), (40, 24, 130, 2048)] {
            var rng = TestRNG(seed: UInt64(n * 1000 + v))
            let hidden = rng.tensor([n, d], -2, 2), weight = rng.tensor([v, d])
            var targets = (0..<n).map { _ in Int32(rng.next() % UInt64(v)) }
            targets[0] = 0
            targets[n - 1] = Int32(v - 1)
            targets[1] = ignoreIndex
            targets[n / 2] = ignoreIndex
            let reference = Reference(hidden: hidden, weight: weight, targets: targets, normalizer: nil)

            let (loss, count) = crossEntropy(hidden: hidden, weight: weight, targets: targets, chunkSize: chunk)
            XCTAssertEqual(count, n - 2)
            XCTAssertEqual(Double(loss.item), reference.loss, accuracy: 1e-5 * abs(reference.loss), "N=\(n) V=\(v)")
            loss.backward()
            assertClose(hidden.grad!, reference.dHidden, tol: 1e-5 * maxAbs(reference.dHidden), "dHidden N=\(n) V=\(v)")
            assertClose(weight.grad!, reference.dWeight, tol: 1e-5 * maxAbs(reference.dWeight), "dWeight N=\(n) V=\(v)")
            for col in 0..<d { XCTAssertEqual(hidden.grad!.data[1 * d + col], 0, "ignored row has a gradient") }
        }
    }

    /// The same loss built from primitive ops over the full logits:
    /// `sum(logSoftmax(matmul(hidden, weight, transposeB: true)) * mask)` with `mask[r, t_r] = -1 / count`.
    /// Tolerances as against the Double reference (both sides are Float32 now, so 2e-5 for gradients).
    func testMatchesPrimitiveComposition() {
        var rng = TestRNG(seed: 9)
        let (n, d, v) = (24, 48, 200)
        let hidden = rng.tensor([n, d], -2, 2), weight = rng.tensor([v, d])
        var targets = (0..<n).map { _ in Int32(rng.next() % UInt64(v)) }
        targets[3] = ignoreIndex
        let count = n - 1
        var maskValues = [Float](repeating: 0, count: n * v)
        for (r, t) in targets.enumerated() where t != ignoreIndex { maskValues[r * v + Int(t)] = -1 / Float(count) }
        let mask = Tensor(maskValues, shape: [n, v])

        let composed = sum(logSoftmax(matmul(hidden, weight, transposeB: true)) * mask)
        composed.backward()
        let (dHidden, dWeight) = (hidden.grad!.copy(), weight.grad!.copy())
        hidden.zeroGrad()
        weight.zeroGrad()

        let (fused, fusedCount) = crossEntropy(hidden: hidden, weight: weight, targets: targets, chunkSize: 64)
        XCTAssertEqual(fusedCount, count)
        XCTAssertEqual(fused.item, composed.item, accuracy: 1e-5 * abs(composed.item))
        fused.backward()
        assertClose(hidden.grad!, dHidden, tol: 2e-5 * maxAbs(dHidden), "dHidden")
        assertClose(weight.grad!, dWeight, tol: 2e-5 * maxAbs(dWeight), "dWeight")
    }

    /// A second backward adds into the existing gradients (sgemm beta = 1 from the first chunk on), and a
    /// frozen input gets no gradient.
    func testGradientsAccumulateAndFrozenInputs() {
        var rng = TestRNG(seed: 5)
        let hidden = rng.tensor([7, 20]), weight = rng.tensor([45, 20])
        let targets: [Int32] = [3, 44, -100, 0, 20, 21, 9]
        let reference = Reference(hidden: hidden, weight: weight, targets: targets, normalizer: nil)
        for _ in 0..<2 { crossEntropy(hidden: hidden, weight: weight, targets: targets, chunkSize: 16).loss.backward() }
        assertClose(hidden.grad!, 2 * reference.dHidden, tol: 2e-5 * maxAbs(reference.dHidden))
        assertClose(weight.grad!, 2 * reference.dWeight, tol: 2e-5 * maxAbs(reference.dWeight))

        hidden.zeroGrad()
        weight.zeroGrad()
        weight.requiresGrad = false
        crossEntropy(hidden: hidden, weight: weight, targets: targets, chunkSize: 16).loss.backward()
        assertClose(hidden.grad!, reference.dHidden, tol: 1e-5 * maxAbs(reference.dHidden))
        XCTAssertNil(weight.grad)

        hidden.zeroGrad()
        hidden.requiresGrad = false
        weight.requiresGrad = true
        crossEntropy(hidden: hidden, weight: weight, targets: targets, chunkSize: 16).loss.backward()
        XCTAssertNil(hidden.grad)
        assertClose(weight.grad!, reference.dWeight, tol: 1e-5 * maxAbs(reference.dWeight))
    }

    // MARK: count and normaliser

    func testCountAndNormalizer() {
        var rng = TestRNG(seed: 3)
        let hidden = rng.tensor([6, 10]), weight = rng.tensor([19, 10])
        let targets: [Int32] = [4, -100, 18, -100, -100, 0]

        let (loss, count) = crossEntropy(hidden: hidden, weight: weight, targets: targets, chunkSize: 8)
        XCTAssertEqual(count, 3)
        loss.backward()
        let (dHidden, dWeight) = (hidden.grad!.copy(), weight.grad!.copy())

        // Dividing by 2 * count halves the loss and the gradients exactly (scaling by a power of two).
        hidden.zeroGrad()
        weight.zeroGrad()
        let (half, halfCount) = crossEntropy(hidden: hidden, weight: weight, targets: targets,
                                             normalizer: 2 * count, chunkSize: 8)
        XCTAssertEqual(halfCount, 3)
        XCTAssertEqual(half.item, loss.item / 2)
        half.backward()
        XCTAssertEqual(hidden.grad!.scalars, dHidden.scalars.map { $0 / 2 })
        XCTAssertEqual(weight.grad!.scalars, dWeight.scalars.map { $0 / 2 })
    }

    func testAllIgnored() {
        var rng = TestRNG(seed: 4)
        let hidden = rng.tensor([4, 9]), weight = rng.tensor([12, 9])
        let targets = [Int32](repeating: ignoreIndex, count: 4)
        for normalizer in [nil, 10] {
            hidden.zeroGrad()
            weight.zeroGrad()
            let (loss, count) = crossEntropy(hidden: hidden, weight: weight, targets: targets,
                                             normalizer: normalizer, chunkSize: 5)
            XCTAssertEqual(count, 0)
            XCTAssertEqual(loss.shape, [1])
            XCTAssertEqual(loss.item, 0)
            loss.backward()
            XCTAssertEqual(hidden.grad!.scalars, [Float](repeating: 0, count: hidden.count))
            XCTAssertEqual(weight.grad!.scalars, [Float](repeating: 0, count: weight.count))
        }
    }

    func testNoGradRecordsNothing() {
        var rng = TestRNG(seed: 6)
        let hidden = rng.tensor([2, 4]), weight = rng.tensor([3, 4])
        let loss = withNoGrad { crossEntropy(hidden: hidden, weight: weight, targets: [1, 2]).loss }
        XCTAssertFalse(loss.requiresGrad)
    }
}

/// Cross-entropy and its gradients computed in Double from the definition, over the full logits.
private struct Reference {
    let loss: Double
    let dHidden: Tensor  // [N, D]
    let dWeight: Tensor  // [V, D]

    init(hidden: Tensor, weight: Tensor, targets: [Int32], normalizer: Int?) {
        let (n, d, v) = (hidden.shape[0], hidden.shape[1], weight.shape[0])
        let h = hidden.scalars.map(Double.init), w = weight.scalars.map(Double.init)
        let count = targets.filter { $0 != ignoreIndex }.count
        let denominator = Double(normalizer ?? count)
        var loss = 0.0
        var dlogits = [Double](repeating: 0, count: n * v)  // [N, V] (softmax - onehot) / denominator
        for r in 0..<n where targets[r] != ignoreIndex {
            let logits = (0..<v).map { c in (0..<d).reduce(0.0) { $0 + h[r * d + $1] * w[c * d + $1] } }
            let top = logits.max()!
            let lse = top + Foundation.log(logits.reduce(0.0) { $0 + Foundation.exp($1 - top) })
            let t = Int(targets[r])
            loss += lse - logits[t]
            for c in 0..<v { dlogits[r * v + c] = (Foundation.exp(logits[c] - lse) - (c == t ? 1 : 0)) / denominator }
        }
        self.loss = loss / denominator
        var dh = [Double](repeating: 0, count: n * d), dw = [Double](repeating: 0, count: v * d)
        for r in 0..<n {
            for c in 0..<v {
                let g = dlogits[r * v + c]
                for k in 0..<d {
                    dh[r * d + k] += g * w[c * d + k]
                    dw[c * d + k] += g * h[r * d + k]
                }
            }
        }
        dHidden = Tensor(dh.map(Float.init), shape: [n, d])
        dWeight = Tensor(dw.map(Float.init), shape: [v, d])
    }
}

