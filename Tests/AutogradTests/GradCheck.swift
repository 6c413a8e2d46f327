import XCTest
@testable import Autograd

/// A small deterministic generator for test data (SplitMix64).
struct TestRNG {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [lo, hi).
    mutating func uniform(_ lo: Float = -1, _ hi: Float = 1) -> Float {
        lo + (hi - lo) * Float(next() >> 40) / Float(1 << 24)
    }
    mutating func tensor(_ shape: [Int], _ lo: Float = -1, _ hi: Float = 1, requiresGrad: Bool = true) -> Tensor {
        let t = Tensor((0..<shape.reduce(1, *)).map { _ in uniform(lo, hi) }, shape: shape)
        t.requiresGrad = requiresGrad
        return t
    }
}

/// Checks the gradients `f` back-propagates into `inputs` against central finite differences.
///
/// The objective is `L = Σ w ⊙ f(inputs)` with fixed random weights `w` (so every output element
/// matters differently). `f` is evaluated in Float32; `L` is accumulated in Double. For every input
/// element, `|analytic - numeric| <= atol + rtol * |numeric|` must hold.
func assertGradients(
    _ inputs: [Tensor], eps: Float = 1e-2, atol: Double = 1e-3, rtol: Double = 1e-2, seed: UInt64 = 7,
    file: StaticString = #filePath, line: UInt = #line, _ f: () -> Tensor
) {
    var rng = TestRNG(seed: seed)
    let probe = withNoGrad(f)
    let w = Tensor((0..<probe.count).map { _ in rng.uniform() }, shape: probe.shape)
    func objective() -> Double {
        let y = withNoGrad(f)
        var s = 0.0
        for i in 0..<y.count { s += Double(w.data[i]) * Double(y.data[i]) }
        return s
    }
    for x in inputs { x.zeroGrad() }
    f().backward(seed: w)
    for (n, x) in inputs.enumerated() {
        guard let grad = x.grad else {
            XCTFail("input \(n) \(x.shape) got no gradient", file: file, line: line)
            continue
        }
        XCTAssertEqual(grad.shape, x.shape, file: file, line: line)
        var worst = 0.0
        for i in 0..<x.count {
            let saved = x.data[i]
            x.data[i] = saved + eps
            let plus = objective()
            x.data[i] = saved - eps
            let minus = objective()
            x.data[i] = saved
            let numeric = (plus - minus) / (2 * Double(eps))
            let analytic = Double(grad.data[i])
            let err = abs(analytic - numeric)
            worst = max(worst, err / (atol + rtol * abs(numeric)))
            if err > atol + rtol * abs(numeric) {
                XCTFail("input \(n) \(x.shape) element \(i): analytic \(analytic) vs numeric \(numeric)",
                        file: file, line: line)
                return
            }
        }
    }
}

/// Asserts two tensors have the same shape and elements within `tol` (max-abs).
func assertClose(_ a: Tensor, _ b: Tensor, tol: Float, _ message: String = "",
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.shape, b.shape, message, file: file, line: line)
    guard a.shape == b.shape else { return }
    var worst: Float = 0
    for i in 0..<a.count { worst = max(worst, abs(a.data[i] - b.data[i])) }
    XCTAssertLessThanOrEqual(worst, tol, "max-abs difference \(worst) \(message)", file: file, line: line)
}

/// The largest magnitude in `t` (the scale of a gradient tolerance).
func maxAbs(_ t: Tensor) -> Float { t.scalars.map(abs).max() ?? 0 }
