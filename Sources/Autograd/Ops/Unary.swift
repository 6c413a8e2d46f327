import Foundation

/// Elementwise transcendental functions, vectorised through ``VectorMath``. Each backward is
/// `dx = g * f'(x)`, written with the saved input and output.

/// e^x.
public func exp(_ x: Tensor) -> Tensor {
    unary("exp", x, VectorMath.exp) { _, y in y }
}

/// Natural logarithm.
public func log(_ x: Tensor) -> Tensor {
    unary("log", x, VectorMath.log) { x, _ in 1 / x }
}

/// Hyperbolic tangent.
public func tanh(_ x: Tensor) -> Tensor {
    unary("tanh", x, VectorMath.tanh) { _, y in 1 - y * y }
}

/// Logistic sigmoid `1 / (1 + e^-x)`.
public func sigmoid(_ x: Tensor) -> Tensor {
    unary("sigmoid", x, VectorMath.sigmoid) { _, y in y * (1 - y) }
}

/// `log(sigmoid(x))`, computed stably for large |x| (the Bradley-Terry reward loss uses it).
public func logSigmoid(_ x: Tensor) -> Tensor {
    // d/dx log σ(x) = 1 - σ(x) = 1 - e^y, with y = log σ(x).
    unary("logSigmoid", x, VectorMath.logSigmoid) { _, y in 1 - Foundation.exp(y) }
}

/// Applies an 8-lane function elementwise; `derivative(x, y)` gives `dy/dx` for the backward.
@inline(__always)
func unary(
    _ name: String, _ x: Tensor, _ f: @escaping (SIMD8<Float>) -> SIMD8<Float>,
    derivative: @escaping (Float, Float) -> Float
) -> Tensor {
    let out = Tensor(uninitialized: x.shape)
    let (src, dst, n) = (UnsafePointer(x.data), out.data, x.count)
    Parallel.chunks(n, grain: Vector.grain) { s, e in VectorMath.map(src + s, dst + s, e - s, f) }
    let y = out.detached()
    return out.recorded(name, [x]) { g in
        let (g, py) = (UnsafePointer(g.data), UnsafePointer(y.data))
        x.withGradBuffer { dx, acc in
            Vector.generate(dx, n) { i in (acc ? dx[i] : 0) + g[i] * derivative(src[i], py[i]) }
        }
    }
}
