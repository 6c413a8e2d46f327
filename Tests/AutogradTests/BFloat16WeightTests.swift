import XCTest
@testable import Autograd

/// Ops on a frozen bf16 ``Weight`` (Linear.swift, Embedding.swift, CrossEntropy.swift): each gives exactly what it gives on the widened Float32 tensor
/// (values and input gradients, bit for bit), and the weight itself gets no gradient.
final class BFloat16WeightTests: XCTestCase {
    /// `values` rounded to bf16, as a bf16 weight and as its widened Float32 copy (no gradient).
    func weights(_ shape: [Int], _ rng: inout TestRNG) -> (bf16: Weight, widened: Tensor) {
        let values = rng.tensor(shape, requiresGrad: false)
        let buffer = BFloat16Buffer(count: values.count + 3)  // an offset view, as in a parameter store
        BFloat16.round(values.data, count: values.count, into: buffer.base + 3)
        let t = BFloat16Tensor(buffer, offset: 3, shape: shape)
        return (.bfloat16(t), t.widened())
    }

    /// The value and the gradients of `inputs` from `f`, then cleared.
    func run(_ inputs: [Tensor], _ f: () -> Tensor) -> (value: [Float], grads: [[Float]]) {
        let out = f()
        let seed = Tensor((0..<out.count).map { Float($0 % 7) - 3 }, shape: out.shape)
        out.backward(seed: seed)
        defer { inputs.forEach { $0.zeroGrad() } }
        return (out.scalars, inputs.map { $0.grad!.scalars })
    }

    func testRounding() {
        XCTAssertEqual(BFloat16.bits(1 + 0x1p-8), 0x3F80)      // halfway: to even
        XCTAssertEqual(BFloat16.bits(1 + 3 * 0x1p-8), 0x3F82)  // halfway: up to even
        XCTAssertEqual(BFloat16.bits(.nan), 0x7FC0)
        XCTAssertEqual(BFloat16.float(0xC040), -3)
        var x: [Float] = [1.5, -0.1, 3e38, 7]
        var bits = [UInt16](repeating: 0, count: 4)
        BFloat16.round(&x, count: 4, into: &bits)
        var back = [Float](repeating: 0, count: 4)
        BFloat16.widen(bits, count: 4, into: &back)
        XCTAssertEqual(back, x.map { BFloat16.float(BFloat16.bits($0)) })
        XCTAssertEqual(back[0], 1.5)
    }

    func testMatmulEqualsTheWidenedProduct() {
        var rng = TestRNG(seed: 1)
        let a = rng.tensor([2, 3, 7])
        let (w, f32) = weights([5, 7], &rng)
        let ours = run([a]) { linear(a, w) }
        let reference = run([a]) { matmul(a, f32, transposeB: true) }
        XCTAssertEqual(ours.value, reference.value)
        XCTAssertEqual(ours.grads, reference.grads)
        XCTAssertNil(f32.grad)
    }

    /// A weight widened in blocks of rows (here 2 rows of 7): the same product, and `dA` summed over
    /// the blocks (1e-6 of the largest element: the sum is re-associated).
    func testBlockedProduct() {
        var rng = TestRNG(seed: 4)
        let a = rng.tensor([3, 7])
        let (w, f32) = weights([5, 7], &rng)
        let ours = run([a]) { linear(a, w, blockElements: 14) }
        let reference = run([a]) { matmul(a, f32, transposeB: true) }
        XCTAssertEqual(ours.value, reference.value)
        for (x, y) in zip(ours.grads[0], reference.grads[0]) { XCTAssertEqual(x, y, accuracy: 1e-6 * reference.grads[0].map(abs).max()!) }
    }

    /// The fused LoRA projection on a bf16 weight (in blocks) equals it on the widened weight.
    func testLowRankLinearOnABFloat16Weight() {
        var rng = TestRNG(seed: 5)
        let (x, a, b) = (rng.tensor([4, 7]), rng.tensor([3, 7]), rng.tensor([5, 3]))
        let (w, f32) = weights([5, 7], &rng)
        let ours = run([x, a, b]) { lowRankLinear(x, w, a: a, b: b, scale: 0.5, blockElements: 21) }
        let reference = run([x, a, b]) { lowRankLinear(x, .float32(f32), a: a, b: b, scale: 0.5) }
        XCTAssertEqual(ours.value, reference.value)
        XCTAssertEqual(ours.grads[1], reference.grads[1])
        XCTAssertEqual(ours.grads[2], reference.grads[2])
        for (p, q) in zip(ours.grads[0], reference.grads[0]) { XCTAssertEqual(p, q, accuracy: 1e-5) }
    }

    func testRowsAndEmbedding() {
        var rng = TestRNG(seed: 2)
        let (w, f32) = weights([6, 4], &rng)
        XCTAssertEqual(w.rows(2..<4).tensor.scalars, Array(f32.scalars[8..<16]))
        let ids: [Int32] = [5, 0, 5, 2]
        XCTAssertEqual(embedding(w, ids).scalars, withNoGrad { embedding(f32, ids) }.scalars)
        XCTAssertFalse(embedding(w, ids).requiresGrad)
    }

    /// The fused losses on a bf16 table, with kept and with recomputed logits and ragged chunks.
    func testFusedLossesEqualTheWidenedTable() {
        var rng = TestRNG(seed: 3)
        let hidden = rng.tensor([5, 11])
        let (w, f32) = weights([29, 11], &rng)
        let targets: [Int32] = [0, -100, 13, 28, 4]
        for cacheBytes in [crossEntropyLogitCacheBytes, 0] {
            let ours = run([hidden]) { crossEntropy(hidden: hidden, weight: w, targets: targets, chunkSize: 12, logitCacheBytes: cacheBytes).loss }
            let reference = run([hidden]) {
                crossEntropy(hidden: hidden, weight: f32, targets: targets, chunkSize: 12, logitCacheBytes: cacheBytes).loss
            }
            XCTAssertEqual(ours.value, reference.value)
            XCTAssertEqual(ours.grads, reference.grads)
            let logp = run([hidden]) { tokenLogProbs(hidden: hidden, weight: w, targets: targets, chunkSize: 12, logitCacheBytes: cacheBytes) }
            let logpReference = run([hidden]) {
                tokenLogProbs(hidden: hidden, weight: f32, targets: targets, chunkSize: 12, logitCacheBytes: cacheBytes)
            }
            XCTAssertEqual(logp.value, logpReference.value)
            XCTAssertEqual(logp.grads, logpReference.grads)
        }
    }
}
