import XCTest
@testable import Autograd

/// Matmul in every transpose combination and the batched form: values against a naive triple loop,
/// gradients against finite differences (eps 1e-2, |err| <= 1e-3 + 1e-2 |numeric|: the products are
/// bilinear, so central differences are exact up to Float32 rounding of the objective).
final class MatmulTests: XCTestCase {
    func naive(_ a: Tensor, _ b: Tensor, _ ta: Bool, _ tb: Bool) -> [Float] {
        let (m, k) = ta ? (a.shape[1], a.shape[0]) : (a.count / a.shape.last!, a.shape.last!)
        let n = tb ? b.shape[0] : b.shape[1]
        var out = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s: Double = 0
                for l in 0..<k {
                    let av = ta ? a.data[l * m + i] : a.data[i * k + l]
                    let bv = tb ? b.data[j * k + l] : b.data[l * n + j]
                    s += Double(av) * Double(bv)
                }
                out[i * n + j] = Float(s)
            }
        }
        return out
    }

    func testAllTransposeCombinations() {
        var rng = TestRNG(seed: 1)
        for (m, k, n) in [(3, 17, 1), (1, 3, 17), (17, 1, 3), (4, 5, 6)] {
            for ta in [false, true] {
                for tb in [false, true] {
                    let a = rng.tensor(ta ? [k, m] : [m, k])
                    let b = rng.tensor(tb ? [n, k] : [k, n])
                    let c = matmul(a, b, transposeA: ta, transposeB: tb)
                    XCTAssertEqual(c.shape, [m, n])
                    assertClose(c, Tensor(naive(a, b, ta, tb), shape: [m, n]), tol: 1e-5)
                    assertGradients([a, b]) { matmul(a, b, transposeA: ta, transposeB: tb) }
                }
            }
        }
    }

    func testLeadingDimensionsFoldIntoRows() {
        var rng = TestRNG(seed: 2)
        let a = rng.tensor([2, 3, 5])
        let w = rng.tensor([7, 5])
        let c = matmul(a, w, transposeB: true)
        XCTAssertEqual(c.shape, [2, 3, 7])
        assertGradients([a, w]) { matmul(a, w, transposeB: true) }
    }

    func testBatched() {
        var rng = TestRNG(seed: 3)
        for ta in [false, true] {
            for tb in [false, true] {
                let (bt, m, k, n) = (3, 4, 1, 5)
                let a = rng.tensor(ta ? [bt, k, m] : [bt, m, k])
                let b = rng.tensor(tb ? [bt, n, k] : [bt, k, n])
                let c = batchedMatmul(a, b, transposeA: ta, transposeB: tb)
                XCTAssertEqual(c.shape, [bt, m, n])
                for i in 0..<bt {
                    let ai = Tensor(Array(a.scalars[(i * m * k)..<((i + 1) * m * k)]), shape: Array(a.shape.dropFirst()))
                    let bi = Tensor(Array(b.scalars[(i * k * n)..<((i + 1) * k * n)]), shape: Array(b.shape.dropFirst()))
                    XCTAssertEqual(Array(c.scalars[(i * m * n)..<((i + 1) * m * n)]), matmul(ai, bi, transposeA: ta, transposeB: tb).scalars)
                }
                assertGradients([a, b]) { batchedMatmul(a, b, transposeA: ta, transposeB: tb) }
            }
        }
    }

    /// A tensor used twice in one product (x · xᵀ) gets both gradient contributions.
    func testSameTensorOnBothSides() {
        var rng = TestRNG(seed: 4)
        let x = rng.tensor([3, 17])
        assertGradients([x]) { matmul(x, x, transposeB: true) }
    }
}

/// The fused LoRA projection `x·Wᵀ + s·((x ⊙ mask)·Aᵀ)·Bᵀ` against finite differences (W frozen),
/// without and with a dropout mask (regenerated in backward), and against the composed ops.
final class LowRankLinearTests: XCTestCase {
    func testGradientsAndComposition() {
        var rng = TestRNG(seed: 21)
        let x = rng.tensor([2, 3, 6])
        let w = rng.tensor([5, 6], requiresGrad: false)
        let (a, b) = (rng.tensor([2, 6]), rng.tensor([5, 2]))
        let maskValues: [Float] = (0..<36).map { $0 % 3 == 0 ? 0 : 1.5 }
        var calls = 0
        let dropout: DropoutMask = { out in
            calls += 1
            for (i, v) in maskValues.enumerated() { out[i] = v }
        }
        for mask in [nil, dropout] {
            assertGradients([x, a, b], eps: 1e-2, atol: 1e-3, rtol: 1e-2) {
                lowRankLinear(x, .float32(w), a: a, b: b, scale: 1.5, dropout: mask)
            }
        }
        XCTAssertGreaterThan(calls, 0)
        let u = x * Tensor(maskValues, shape: [2, 3, 6])
        let fused = lowRankLinear(x, .float32(w), a: a, b: b, scale: 1.5, dropout: dropout)
        let composed = matmul(x, w, transposeB: true) + matmul(matmul(u, a, transposeB: true), b, transposeB: true) * 1.5
        assertClose(fused, composed, tol: 1e-5)
        calls = 0
        fused.backward(seed: Tensor(repeating: 1, shape: fused.shape))
        XCTAssertEqual(calls, 1, "backward regenerates the mask once")
    }
}
