import Foundation

/// Gemma's RMSNorm over the last axis: `y = x * rsqrt(mean(x²) + eps) * (1 + w)`.
///
/// `x: [N, D]` (any leading shape), `w: [D]` stored as the offset from 1 (HF layout, initialised to 0).
/// Backward, with `r = rsqrt(mean(x²) + eps)`, `u = x r`, `du = g (1 + w)`:
/// `dx = r (du - u · mean(du ⊙ u))`, `dw = Σ_rows g ⊙ u`.
public func rmsNorm(_ x: Tensor, weight w: Tensor, eps: Float = 1e-6) -> Tensor {
    let d = x.shape.last ?? 0
    shapeCheck(w.shape == [d], "rmsNorm: weight \(w.shape) for input \(x.shape)")
    let rows = d == 0 ? 0 : x.count / d
    let out = Tensor(uninitialized: x.shape)
    let rstd = Tensor(uninitialized: [rows])  // rstd: [N]
    let scale = Tensor(uninitialized: [d])    // 1 + w: [D]
    Vector.generate(scale.data, d) { j in 1 + w.data[j] }
    let (px, pw, py, pr) = (UnsafePointer(x.data), UnsafePointer(scale.data), out.data, rstd.data)
    forEachRow(rows, cols: d) { r in
        let row = px + r
        let meanSquare = Vector.dot(row, row, d) / Float(d)
        let s = 1 / (meanSquare + eps).squareRoot()
        pr[r / d] = s
        for j in 0..<d { py[r + j] = row[j] * s * pw[j] }
    }
    return out.recorded("rmsNorm", [x, w]) { g in
        let (pg, pr, pw) = (UnsafePointer(g.data), UnsafePointer(rstd.data), UnsafePointer(scale.data))
        if x.requiresGrad {
            x.withGradBuffer { dx, acc in
                forEachRow(rows, cols: d) { r in
                    let (xr, gr, s) = (px + r, pg + r, pr[r / d])
                    let c = Vector.dot(gr, pw, xr, d) * s / Float(d)  // mean(du ⊙ u)
                    for j in 0..<d {
                        let v = s * (gr[j] * pw[j] - xr[j] * s * c)
                        dx[r + j] = acc ? dx[r + j] + v : v
                    }
                }
            }
        }
        if w.requiresGrad {
            w.withGradBuffer { dw, acc in
                // dw[j] = Σ_rows g ⊙ u, split over columns so each thread owns its slice of dw.
                Parallel.chunks(d, grain: max(8, Vector.grain / max(rows, 1))) { c0, c1 in
                    if !acc { (dw + c0).update(repeating: 0, count: c1 - c0) }
                    for row in 0..<rows {
                        let (xr, gr, s) = (px + row * d, pg + row * d, pr[row])
                        for j in c0..<c1 { dw[j] += gr[j] * xr[j] * s }
                    }
                }
            }
        }
    }
}
