/// Row gather: `out[n, :] = weight[ids[n], :]`. `weight: [V, D]`, `ids: [N]` → `[N, D]`.
/// Backward scatter-adds `g[n, :]` into `dWeight[ids[n], :]` (repeated ids accumulate), threaded over
/// column blocks so no two threads touch the same element.
public func embedding(_ weight: Tensor, _ ids: [Int32]) -> Tensor {
    shapeCheck(weight.rank == 2, "embedding: weight must be [V, D], got \(weight.shape)")
    let (vocab, d) = (weight.shape[0], weight.shape[1])
    for (n, id) in ids.enumerated() {
        shapeCheck(id >= 0 && Int(id) < vocab, "embedding: id \(id) at position \(n) out of range for vocab \(vocab)")
    }
    let out = Tensor(uninitialized: [ids.count, d])
    let (w, o) = (UnsafePointer(weight.data), out.data)
    ids.withUnsafeBufferPointer { ids in
        forEachRow(ids.count, cols: d) { r in (o + r).update(from: w + Int(ids[r / d]) * d, count: d) }
    }
    return out.recorded("embedding", [weight]) { g in
        weight.withGradBuffer { dw, acc in
            if !acc { dw.update(repeating: 0, count: weight.count) }
            let g = UnsafePointer(g.data)
            ids.withUnsafeBufferPointer { ids in
                // Columns split across threads; each thread walks all rows for its columns.
                Parallel.chunks(d, grain: max(8, Vector.grain / max(ids.count, 1))) { c0, c1 in
                    for (n, id) in ids.enumerated() {
                        let (src, dst) = (g + n * d, dw + Int(id) * d)
                        for c in c0..<c1 { dst[c] += src[c] }
                    }
                }
            }
        }
    }
}
