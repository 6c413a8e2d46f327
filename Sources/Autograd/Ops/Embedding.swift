/// Row gather: `out[n, :] = weight[ids[n], :]`. `weight: [V, D]`, `ids: [N]` → `[N, D]`.
/// Backward scatter-adds `g[n, :]` into `dWeight[ids[n], :]` (repeated ids accumulate), threaded over
/// column blocks so no two threads touch the same element.
///
/// With `shard`, `weight` holds the rows of one rank's ``VocabShard`` (the vocabulary-parallel
/// embedding): ids of other ranks' rows give zero rows and no gradient, and the caller sums the ranks'
/// outputs (``sumOverShards(_:_:)``).
public func embedding(_ weight: Tensor, _ ids: [Int32], shard: VocabShard? = nil) -> Tensor {
    embedding(.float32(weight), ids, shard: shard)
}

/// ``embedding(_:_:shard:)`` of a ``Weight``: a bf16 table's rows are widened as they are gathered (and
/// it has no gradient).
public func embedding(_ table: Weight, _ ids: [Int32], shard: VocabShard? = nil) -> Tensor {
    shapeCheck(table.shape.count == 2, "embedding: weight must be [V, D], got \(table.shape)")
    let (rows, d) = (table.shape[0], table.shape[1])
    let (first, vocab) = shard.map { ($0.firstRow, $0.vocabulary) } ?? (0, rows)
    for (n, id) in ids.enumerated() {
        shapeCheck(id >= 0 && Int(id) < vocab, "embedding: id \(id) at position \(n) out of range for vocab \(vocab)")
    }
    // Local row of each id, -1 when another shard holds it.
    let local = ids.map { Int($0) - first < rows && Int($0) >= first ? Int32(Int($0) - first) : -1 }
    let out = Tensor(uninitialized: [ids.count, d])
    let o = out.data
    local.withUnsafeBufferPointer { ids in
        forEachRow(ids.count, cols: d) { r in
            let id = Int(ids[r / d])
            guard id >= 0 else { return (o + r).update(repeating: 0, count: d) }
            switch table {
            case .float32(let w): (o + r).update(from: w.data + id * d, count: d)
            case .bfloat16(let w): for c in 0..<d { o[r + c] = BFloat16.float(w.bits[id * d + c]) }
            }
        }
    }
    guard case .float32(let weight) = table else { return out }
    return out.recorded("embedding", [weight]) { g in
        weight.withGradBuffer { dw, acc in
            if !acc { dw.update(repeating: 0, count: weight.count) }
            let g = UnsafePointer(g.data)
            local.withUnsafeBufferPointer { ids in
                // Columns split across threads; each thread walks all rows for its columns.
                Parallel.chunks(d, grain: max(8, Vector.grain / max(ids.count, 1))) { c0, c1 in
                    for (n, id) in ids.enumerated() where id >= 0 {
                        let (src, dst) = (g + n * d, dw + Int(id) * d)
                        for c in c0..<c1 { dst[c] += src[c] }
                    }
                }
            }
        }
    }
}
