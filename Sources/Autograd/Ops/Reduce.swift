/// Sums and means over one axis. The tensor is viewed as `[outer, len, inner]` around the axis; the
/// result drops the axis (`[outer, inner]` in the original dimensions). Backward broadcasts `g` back.

/// Sum over `axis` (negative counts from the end).
public func sum(_ x: Tensor, axis: Int) -> Tensor { reduce(x, axis: axis, scale: 1, name: "sum") }

/// Mean over `axis` (negative counts from the end).
public func mean(_ x: Tensor, axis: Int) -> Tensor {
    let ax = normalizedAxis(axis, x.rank, "mean", x.shape)
    return reduce(x, axis: ax, scale: 1 / Float(max(x.shape[ax], 1)), name: "mean")
}

/// Sum of every element, as a one-element tensor of shape `[1]`.
public func sum(_ x: Tensor) -> Tensor { reshape(sum(reshape(x, [x.count]), axis: 0), [1]) }

/// Mean of every element, as a one-element tensor of shape `[1]`.
public func mean(_ x: Tensor) -> Tensor { reshape(mean(reshape(x, [x.count]), axis: 0), [1]) }

func reduce(_ x: Tensor, axis: Int, scale: Float, name: String) -> Tensor {
    let ax = normalizedAxis(axis, x.rank, name, x.shape)
    let (outer, len, inner) = x.split(at: ax)
    var outShape = x.shape
    outShape.remove(at: ax)
    let out = Tensor(uninitialized: outShape)
    let (src, dst) = (UnsafePointer(x.data), out.data)
    // out[o, i] = scale * Σ_l x[o, l, i]
    Parallel.chunks(outer, grain: max(1, Vector.grain / max(len * inner, 1))) { o0, o1 in
        for o in o0..<o1 {
            let row = dst + o * inner
            row.update(repeating: 0, count: inner)
            for l in 0..<len {
                let s = src + (o * len + l) * inner
                for i in 0..<inner { row[i] += s[i] }
            }
            for i in 0..<inner { row[i] *= scale }
        }
    }
    return out.recorded(name, [x]) { g in
        let g = UnsafePointer(g.data)
        x.withGradBuffer { dx, acc in
            // dx[o, l, :] = scale * g[o, :]
            forEachRow(outer * len, cols: inner) { r in
                let (d, s) = (dx + r, g + (r / (len * inner)) * inner)
                for i in 0..<inner { d[i] = (acc ? d[i] : 0) + scale * s[i] }
            }
        }
    }
}

/// Resolves a possibly negative axis, stopping with a message naming the op when out of range.
func normalizedAxis(_ axis: Int, _ rank: Int, _ op: String, _ shape: [Int]) -> Int {
    let ax = axis < 0 ? axis + rank : axis
    shapeCheck(ax >= 0 && ax < rank, "\(op): axis \(axis) out of range for shape \(shape)")
    return ax
}

extension Tensor {
    /// `(outer, shape[axis], inner)`: the tensor viewed as three dimensions around `axis`.
    func split(at axis: Int) -> (Int, Int, Int) {
        let outer = shape[..<axis].reduce(1, *)
        let inner = shape[(axis + 1)...].reduce(1, *)
        return (outer, shape[axis], inner)
    }
}

extension Tensor {
    /// `Σ x²` over all elements (outside any graph), threaded, accumulated in Double per chunk: the
    /// building block of global gradient norms.
    public func sumOfSquares() -> Double {
        let x = UnsafePointer(data)
        let chunk = 1 << 16
        let chunks = (count + chunk - 1) / chunk
        var partial = [Double](repeating: 0, count: chunks)
        partial.withUnsafeMutableBufferPointer { out in
            let out = out.baseAddress!
            Parallel.chunks(chunks, grain: 4) { c0, c1 in
                for c in c0..<c1 {
                    let start = c * chunk
                    out[c] = Double(Vector.dot(x + start, x + start, min(chunk, count - start)))
                }
            }
        }
        return partial.reduce(0, +)
    }
}
