/// Scalar arithmetic, all through one affine map `y = x * scale + shift` (backward: `dx = g * scale`).

public func + (x: Tensor, s: Float) -> Tensor { affine(x, scale: 1, shift: s) }
public func + (s: Float, x: Tensor) -> Tensor { affine(x, scale: 1, shift: s) }
public func - (x: Tensor, s: Float) -> Tensor { affine(x, scale: 1, shift: -s) }
public func - (s: Float, x: Tensor) -> Tensor { affine(x, scale: -1, shift: s) }
public func * (x: Tensor, s: Float) -> Tensor { affine(x, scale: s, shift: 0) }
public func * (s: Float, x: Tensor) -> Tensor { affine(x, scale: s, shift: 0) }
public func / (x: Tensor, s: Float) -> Tensor { affine(x, scale: 1 / s, shift: 0) }
public prefix func - (x: Tensor) -> Tensor { affine(x, scale: -1, shift: 0) }

/// `x * scale + shift`, elementwise.
public func affine(_ x: Tensor, scale: Float, shift: Float) -> Tensor {
    let out = Tensor(uninitialized: x.shape)
    let src = UnsafePointer(x.data)
    Vector.generate(out.data, x.count) { i in src[i] * scale + shift }
    return out.recorded("affine", [x]) { g in
        let g = UnsafePointer(g.data)
        x.withGradBuffer { dx, acc in
            Vector.generate(dx, x.count) { i in (acc ? dx[i] : 0) + g[i] * scale }
        }
    }
}
