import Foundation

/// Softmax and log-softmax over the last axis, one row at a time (max-subtracted, vectorised exp).

/// `softmax(x)[r, j] = e^{x[r,j] - m_r} / Σ_k e^{x[r,k] - m_r}` over the last axis.
/// Backward: `dx = y ⊙ (g - Σ_j g_j y_j)`.
public func softmax(_ x: Tensor) -> Tensor {
    let cols = x.shape.last ?? 1, rows = x.count / max(cols, 1)
    let out = Tensor(uninitialized: x.shape)
    let (px, py) = (UnsafePointer(x.data), out.data)
    forEachRow(rows, cols: cols) { r in
        let (src, dst) = (px + r, py + r)
        let (_, s) = expShifted(src, dst, cols)
        let inv = 1 / Float(s)
        for j in 0..<cols { dst[j] *= inv }
    }
    let y = out.detached()
    return out.recorded("softmax", [x]) { g in
        x.withGradBuffer { dx, acc in
            let (pg, py) = (UnsafePointer(g.data), UnsafePointer(y.data))
            forEachRow(rows, cols: cols) { r in
                let (g, y, dx) = (pg + r, py + r, dx + r)
                let dot = Vector.dot(g, y, cols)
                for j in 0..<cols { dx[j] = (acc ? dx[j] : 0) + y[j] * (g[j] - dot) }
            }
        }
    }
}

/// `logSoftmax(x)[r, j] = x[r,j] - m_r - log Σ_k e^{x[r,k] - m_r}` over the last axis.
/// Backward: `dx = g - softmax(x) Σ_j g_j`.
public func logSoftmax(_ x: Tensor) -> Tensor {
    let cols = x.shape.last ?? 1, rows = x.count / max(cols, 1)
    let out = Tensor(uninitialized: x.shape)
    let (px, py) = (UnsafePointer(x.data), out.data)
    forEachRow(rows, cols: cols) { r in
        let (src, dst) = (px + r, py + r)
        let (m, s) = expShifted(src, dst, cols)
        let shift = m + Float(Foundation.log(s))
        for j in 0..<cols { dst[j] = src[j] - shift }
    }
    let y = out.detached()
    return out.recorded("logSoftmax", [x]) { g in
        x.withGradBuffer { dx, acc in
            let (pg, py) = (UnsafePointer(g.data), UnsafePointer(y.data))
            forEachRow(rows, cols: cols) { r in
                let (g, y, dx) = (pg + r, py + r, dx + r)
                let total = Float(Vector.sum(g, cols))
                for j in 0..<cols { dx[j] = (acc ? dx[j] : 0) + g[j] - Foundation.exp(y[j]) * total }
            }
        }
    }
}

/// Writes `e^{src - max}` to `dst` and returns `(max, Σ e^{src - max})`.
@inline(__always)
func expShifted(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) -> (Float, Double) {
    let m = Vector.max(src, n)
    let shift = m == -.infinity ? 0 : m
    VectorMath.map(src, dst, n) { VectorMath.exp($0 - shift) }
    return (m, Vector.sum(dst, n))
}

/// Calls `body(offset)` with the element offset of every row of `rows x cols`, threaded over rows.
@inline(__always)
func forEachRow(_ rows: Int, cols: Int, _ body: (Int) -> Void) {
    Parallel.chunks(rows, grain: max(1, Vector.grain / max(cols, 1))) { r0, r1 in
        for r in r0..<r1 { body(r * cols) }
    }
}
