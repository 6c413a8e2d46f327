import Foundation

/// Causal scaled dot-product attention, fused, kv-head aware and memory-efficient (FlashAttention-2
/// style: query tiles x key tiles, online softmax, backward recomputes the scores).
///
/// - `q: [B, T, H, hd]`, `k, v: [B, T, KV, hd]` with `H % KV == 0`: query head `h` reads kv head
///   `h / (H / KV)` in place (no copy of k or v).
/// - `documents`: optional `[B*T]` document ids for packed rows; a query sees only earlier keys of its
///   own document. Without it, every earlier key of the row is visible.
/// - `scale` defaults to `1 / sqrt(hd)` (Gemma: head_dim, not hidden / heads).
/// - Returns `[B, T, H, hd]`.
///
/// Forward: for each `(b, kv head)` the query rows of all heads that share the kv head are stacked into a
/// tile `[Tq * H/KV, hd]`; for each key tile `S = scale Q Kᵀ` (masked), running max `m`, sum `l`,
/// `O = Σ softmax(S) V`; only the row log-sum-exp `L: [B, T, H]` is kept. Backward per tile:
/// `P = exp(S - L)`, `dV += Pᵀ dO`, `dP = dO Vᵀ`, `dS = P ⊙ (dP - rowsum(dO ⊙ O)) scale`,
/// `dQ += dS K`, `dK += dSᵀ Q`. No buffer larger than a tile `[Tq * H/KV, Tk]` exists at any T.
public func causalAttention(q: Tensor, k: Tensor, v: Tensor, documents: [Int32]? = nil, scale: Float? = nil) -> Tensor {
    causalAttention(q: q, k: k, v: v, documents: documents, scale: scale, tileRows: 512, keyTile: 256)
}

/// ``causalAttention(q:k:v:documents:scale:)`` with explicit tiling: about `tileRows` stacked query rows
/// (query positions x heads per kv head) per tile, `keyTile` key positions per tile.
func causalAttention(q: Tensor, k: Tensor, v: Tensor, documents: [Int32]?, scale: Float?,
                     tileRows: Int, keyTile: Int) -> Tensor {
    shapeCheck(q.rank == 4 && k.rank == 4 && k.shape == v.shape,
               "causalAttention: need q [B, T, H, hd], k and v [B, T, KV, hd]; got q \(q.shape), k \(k.shape), v \(v.shape)")
    let geometry = AttentionGeometry(
        batch: q.shape[0], time: q.shape[1], heads: q.shape[2], kvHeads: k.shape[2], headDim: q.shape[3],
        scale: scale ?? 1 / Float(q.shape[3]).squareRoot(), documents: documents,
        targetRows: tileRows, keyTileLimit: keyTile)
    shapeCheck(k.shape[0] == geometry.batch && k.shape[1] == geometry.time && k.shape[3] == geometry.headDim,
               "causalAttention: q \(q.shape) and k \(k.shape) differ in batch, time or head_dim")
    shapeCheck(geometry.kvHeads > 0 && geometry.heads % geometry.kvHeads == 0,
               "causalAttention: \(geometry.heads) query heads not a multiple of \(geometry.kvHeads) kv heads")
    shapeCheck(documents.map { $0.count == geometry.batch * geometry.time } ?? true,
               "causalAttention: \(documents?.count ?? 0) document ids for B*T = \(geometry.batch * geometry.time)")
    let out = Tensor(uninitialized: q.shape)
    let logSumExp = Tensor(uninitialized: [geometry.batch, geometry.time, geometry.heads])  // L: [B, T, H]
    geometry.forward(q: q.data, k: k.data, v: v.data, out: out.data, logSumExp: logSumExp.data)
    let o = out.detached()
    return out.recorded("causalAttention", [q, k, v]) { g in
        q.withGradBufferOrScratch { dq, accQ in
            k.withGradBufferOrScratch { dk, accK in
                v.withGradBufferOrScratch { dv, accV in
                    // dk and dv gather sums from many tiles: start from zero unless accumulating.
                    if !accK { dk.update(repeating: 0, count: k.count) }
                    if !accV { dv.update(repeating: 0, count: v.count) }
                    geometry.backward(q: q.data, k: k.data, v: v.data, out: o.data, logSumExp: logSumExp.data,
                                      dOut: g.data, dq: dq, accumulateQ: accQ, dk: dk, dv: dv)
                }
            }
        }
    }
}

/// Sizes, tiling and the two kernels of ``causalAttention(q:k:v:documents:scale:)``.
struct AttentionGeometry {
    let batch: Int, time: Int, heads: Int, kvHeads: Int, headDim: Int
    let scale: Float
    let documents: [Int32]?
    /// Stacked query rows wanted per tile (about 512 keeps sgemm efficient) and the key tile limit.
    let targetRows: Int, keyTileLimit: Int

    /// Query heads per kv head.
    var group: Int { heads / kvHeads }
    /// Query positions per tile.
    var queryTile: Int { max(1, min(time, targetRows / group)) }
    /// Key positions per tile.
    var keyTile: Int { max(1, min(time, keyTileLimit)) }
    /// Stacked rows in a full query tile.
    var tileRows: Int { queryTile * group }

    /// Offset of element `[b, t, head, 0]` in a `[B, T, heads, hd]` tensor.
    @inline(__always)
    func offset(_ b: Int, _ t: Int, _ head: Int, heads: Int) -> Int { ((b * time + t) * heads + head) * headDim }

    /// Copies the stacked query-side rows of a `[B, T, H, hd]` tensor into `dst` (or adds `src` back).
    func gather(_ x: UnsafePointer<Float>, _ b: Int, _ g: Int, _ t0: Int, _ t1: Int, into dst: UnsafeMutablePointer<Float>) {
        Blocks(outer: t1 - t0, block: group * headDim)
            .copy(from: x + offset(b, t0, g * group, heads: heads), stride: heads * headDim, to: dst, stride: group * headDim)
    }

    func scatter(_ src: UnsafePointer<Float>, _ b: Int, _ g: Int, _ t0: Int, _ t1: Int,
                 into x: UnsafeMutablePointer<Float>, accumulate: Bool) {
        let blocks = Blocks(outer: t1 - t0, block: group * headDim)
        let dst = x + offset(b, t0, g * group, heads: heads)
        if accumulate {
            blocks.add(from: src, stride: group * headDim, to: dst, stride: heads * headDim)
        } else {
            blocks.copy(from: src, stride: group * headDim, to: dst, stride: heads * headDim)
        }
    }

    /// Writes `S = scale · Q Kᵀ` for rows of tile `(b, t0)` against keys `j0..<j1`, masked to -inf.
    func scores(_ qt: UnsafePointer<Float>, rows: Int, k: UnsafePointer<Float>, _ b: Int, _ g: Int,
                _ t0: Int, _ j0: Int, _ j1: Int, into s: UnsafeMutablePointer<Float>,
                _ docs: UnsafeBufferPointer<Int32>?, _ parallelRows: Bool) {
        let n = j1 - j0
        // s: [rows, n] = scale · qt: [rows, hd] · K[b, j0..<j1, g]ᵀ: [hd, n]
        BLAS.gemm(transB: true, m: rows, n: n, k: headDim, alpha: scale, a: qt, lda: headDim,
                  b: k + offset(b, j0, g, heads: kvHeads), ldb: kvHeads * headDim, c: s, ldc: n)
        let needsMask = docs != nil || j1 - 1 > t0
        guard needsMask else { return }
        let group = group
        rowLoop(rows, cols: n, parallelRows) { r in
            let t = t0 + (r / n) / group
            let row = s + r
            // Causal: keys after t are hidden (a suffix of the tile's columns).
            let firstHidden = min(max(t + 1 - j0, 0), n)
            (row + firstHidden).update(repeating: -.infinity, count: n - firstHidden)
            guard let docs else { return }
            let doc = docs[b * time + t]
            let rowDocs = docs.baseAddress! + b * time + j0
            for j in 0..<firstHidden where rowDocs[j] != doc { row[j] = -.infinity }
        }
    }

    /// Runs `body(units, parallelRows)` over the `(b, kv head)` units `0..<B*KV`. With at least as many
    /// units as threads, units are split across threads and each runs single-threaded sgemm and row
    /// loops (no synchronisation inside a unit); otherwise one sequence of units uses threaded sgemm and
    /// threaded row loops. A unit owns its rows of the output and of dK and dV, so no two threads write
    /// the same element.
    func forEachUnitRange(_ body: (Range<Int>, Bool) -> Void) {
        let units = batch * kvHeads
        if Parallel.threadCount > 1 && units >= Parallel.threadCount {
            BLAS.singleThreaded { Parallel.chunks(units, grain: 1) { u0, u1 in body(u0..<u1, false) } }
        } else {
            body(0..<units, true)
        }
    }

    /// Calls `body(b, g, t0, t1, rows)` for every query tile `t0..<t1` (with `rows` stacked query rows)
    /// of every unit `(b, kv head g)` in `units`, in order.
    @inline(__always)
    func forEachQueryTile(in units: Range<Int>, _ body: (Int, Int, Int, Int, Int) -> Void) {
        for unit in units {
            for t0 in stride(from: 0, to: time, by: queryTile) {
                let t1 = min(t0 + queryTile, time)
                body(unit / kvHeads, unit % kvHeads, t0, t1, (t1 - t0) * group)
            }
        }
    }

    func forward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                 out: UnsafeMutablePointer<Float>, logSumExp: UnsafeMutablePointer<Float>) {
        withDocuments { docs in
            forEachUnitRange { units, parallelRows in
                let (tileRows, keyTile, hd) = (tileRows, keyTile, headDim)
                let scratch = Tensor(uninitialized: [2 * tileRows * hd + tileRows * keyTile + 2 * tileRows])
                defer { withExtendedLifetime(scratch) {} }
                let qt = scratch.data                        // [rows, hd] stacked queries
                let acc = qt + tileRows * hd                 // [rows, hd] unnormalised output
                let s = acc + tileRows * hd                  // [rows, n] scores, then probabilities
                let m = s + tileRows * keyTile               // [rows] running max
                let l = m + tileRows                         // [rows] running sum of exponentials
                forEachQueryTile(in: units) { b, g, t0, t1, rows in
                    gather(q, b, g, t0, t1, into: qt)
                    acc.update(repeating: 0, count: rows * hd)
                    m.update(repeating: -.infinity, count: rows)
                    l.update(repeating: 0, count: rows)
                    for j0 in stride(from: 0, to: t1, by: keyTile) {
                        let j1 = min(t1, j0 + keyTile), n = j1 - j0
                        scores(qt, rows: rows, k: k, b, g, t0, j0, j1, into: s, docs, parallelRows)
                        // Online softmax: rescale what has been accumulated to the new row maximum.
                        rowLoop(rows, cols: n, parallelRows) { r in
                            let row = r / n
                            let sr = s + r
                            let newMax = max(m[row], Vector.max(sr, n))
                            let shift = newMax == -.infinity ? 0 : newMax
                            VectorMath.map(sr, sr, n) { VectorMath.exp($0 - shift) }
                            let alpha = m[row] == -.infinity ? 0 : Foundation.exp(m[row] - shift)
                            l[row] = l[row] * alpha + Float(Vector.sum(sr, n))
                            m[row] = newMax
                            let ar = acc + row * hd
                            for e in 0..<hd { ar[e] *= alpha }
                        }
                        // acc: [rows, hd] += P: [rows, n] · V[b, j0..<j1, g]: [n, hd]
                        BLAS.gemm(m: rows, n: hd, k: n, a: s, lda: n, b: v + offset(b, j0, g, heads: kvHeads),
                                  ldb: kvHeads * hd, beta: 1, c: acc, ldc: hd)
                    }
                    rowLoop(rows, cols: hd, parallelRows) { r in
                        let row = r / hd
                        let inv = l[row] > 0 ? 1 / l[row] : 0
                        for e in 0..<hd { acc[r + e] *= inv }
                        let (tl, hl) = (row / group, row % group)
                        logSumExp[(b * time + t0 + tl) * heads + g * group + hl] = m[row] + Foundation.log(l[row])
                    }
                    scatter(acc, b, g, t0, t1, into: out, accumulate: false)
                }
            }
        }
    }

    func backward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                  out: UnsafePointer<Float>, logSumExp: UnsafePointer<Float>, dOut: UnsafePointer<Float>,
                  dq: UnsafeMutablePointer<Float>, accumulateQ: Bool,
                  dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>) {
        withDocuments { docs in
            forEachUnitRange { units, parallelRows in
                let (tileRows, keyTile, hd, scale) = (tileRows, keyTile, headDim, scale)
                let scratch = Tensor(uninitialized: [3 * tileRows * hd + 2 * tileRows * keyTile + 2 * tileRows])
                defer { withExtendedLifetime(scratch) {} }
                let qt = scratch.data                        // [rows, hd] stacked Q
                let dot = qt + tileRows * hd                 // [rows, hd] stacked dO
                let ot = dot + tileRows * hd                 // [rows, hd] stacked O, then dQ
                let dqt = ot
                let p = ot + tileRows * hd                   // [rows, n] P
                let ds = p + tileRows * keyTile              // [rows, n] dP, then dS
                let lse = ds + tileRows * keyTile            // [rows] L
                let delta = lse + tileRows                   // [rows] D = rowsum(dO ⊙ O)
                forEachQueryTile(in: units) { b, g, t0, t1, rows in
                    gather(q, b, g, t0, t1, into: qt)
                    gather(dOut, b, g, t0, t1, into: dot)
                    gather(out, b, g, t0, t1, into: ot)
                    for row in 0..<rows {
                        lse[row] = logSumExp[(b * time + t0 + row / group) * heads + g * group + row % group]
                        delta[row] = Vector.dot(dot + row * hd, ot + row * hd, hd)
                    }
                    dqt.update(repeating: 0, count: rows * hd)
                    for j0 in stride(from: 0, to: t1, by: keyTile) {
                        let j1 = min(t1, j0 + keyTile), n = j1 - j0
                        let (kt, vt) = (k + offset(b, j0, g, heads: kvHeads), v + offset(b, j0, g, heads: kvHeads))
                        let (dkt, dvt) = (dk + offset(b, j0, g, heads: kvHeads), dv + offset(b, j0, g, heads: kvHeads))
                        let ldkv = kvHeads * hd
                        scores(qt, rows: rows, k: k, b, g, t0, j0, j1, into: p, docs, parallelRows)
                        // dP: [rows, n] = dO: [rows, hd] · Vᵀ: [hd, n]
                        BLAS.gemm(transB: true, m: rows, n: n, k: hd, a: dot, lda: hd, b: vt, ldb: ldkv, c: ds, ldc: n)
                        // One pass: P = exp(S - L), dS = P ⊙ (dP - D) · scale
                        rowLoop(rows, cols: n, parallelRows) { r in
                            let (shift, d) = (lse[r / n], delta[r / n])
                            VectorMath.map(p + r, p + r, n) { VectorMath.exp($0 - shift) }
                            for j in 0..<n { ds[r + j] = p[r + j] * (ds[r + j] - d) * scale }
                        }
                        // dV[j0..<j1]: [n, hd] += Pᵀ: [n, rows] · dO: [rows, hd]
                        BLAS.gemm(transA: true, m: n, n: hd, k: rows, a: p, lda: n, b: dot, ldb: hd, beta: 1, c: dvt, ldc: ldkv)
                        // dQ: [rows, hd] += dS: [rows, n] · K: [n, hd]
                        BLAS.gemm(m: rows, n: hd, k: n, a: ds, lda: n, b: kt, ldb: ldkv, beta: 1, c: dqt, ldc: hd)
                        // dK[j0..<j1]: [n, hd] += dSᵀ: [n, rows] · Q: [rows, hd]
                        BLAS.gemm(transA: true, m: n, n: hd, k: rows, a: ds, lda: n, b: qt, ldb: hd, beta: 1, c: dkt, ldc: ldkv)
                    }
                    scatter(dqt, b, g, t0, t1, into: dq, accumulate: accumulateQ)
                }
            }
        }
    }

    /// `body(offset)` for each row of `rows x cols`: threaded when `parallel`, else on this thread.
    @inline(__always)
    private func rowLoop(_ rows: Int, cols: Int, _ parallel: Bool, _ body: (Int) -> Void) {
        if parallel {
            forEachRow(rows, cols: cols, body)
        } else {
            for r in 0..<rows { body(r * cols) }
        }
    }

    private func withDocuments(_ body: (UnsafeBufferPointer<Int32>?) -> Void) {
        if let documents { documents.withUnsafeBufferPointer { body($0) } } else { body(nil) }
    }
}
