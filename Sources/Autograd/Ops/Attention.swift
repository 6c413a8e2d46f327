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

    /// Calls `body(b, kvHead, t0, t1)` for every query tile.
    func forEachTile(_ body: (Int, Int, Int, Int) -> Void) {
        for b in 0..<batch {
            for g in 0..<kvHeads {
                var t0 = 0
                while t0 < time {
                    let t1 = min(time, t0 + queryTile)
                    body(b, g, t0, t1)
                    t0 = t1
                }
            }
        }
    }

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

    /// Whether key `j` is visible from query position `t` of batch row `b`.
    @inline(__always)
    func visible(_ b: Int, _ t: Int, _ j: Int, _ docs: UnsafeBufferPointer<Int32>?) -> Bool {
        guard j <= t else { return false }
        guard let docs else { return true }
        return docs[b * time + j] == docs[b * time + t]
    }

    /// Writes `S = scale · Q Kᵀ` for rows of tile `(b, t0)` against keys `j0..<j1`, masked to -inf.
    func scores(_ qt: UnsafePointer<Float>, rows: Int, k: UnsafePointer<Float>, _ b: Int, _ g: Int,
                _ t0: Int, _ j0: Int, _ j1: Int, into s: UnsafeMutablePointer<Float>,
                _ docs: UnsafeBufferPointer<Int32>?) {
        let n = j1 - j0
        // s: [rows, n] = scale · qt: [rows, hd] · K[b, j0..<j1, g]ᵀ: [hd, n]
        BLAS.gemm(transB: true, m: rows, n: n, k: headDim, alpha: scale, a: qt, lda: headDim,
                  b: k + offset(b, j0, g, heads: kvHeads), ldb: kvHeads * headDim, c: s, ldc: n)
        let needsMask = docs != nil || j1 - 1 > t0
        guard needsMask else { return }
        let group = group
        forEachRow(rows, cols: n) { r in
            let t = t0 + (r / n) / group
            for j in 0..<n where !visible(b, t, j0 + j, docs) { s[r + j] = -.infinity }
        }
    }

    func forward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                 out: UnsafeMutablePointer<Float>, logSumExp: UnsafeMutablePointer<Float>) {
        let (tileRows, keyTile, hd) = (tileRows, keyTile, headDim)
        let qt = Tensor(uninitialized: [tileRows, hd])       // stacked queries
        let acc = Tensor(uninitialized: [tileRows, hd])      // unnormalised output
        let s = Tensor(uninitialized: [tileRows, keyTile])   // scores / probabilities of one key tile
        let stats = Tensor(uninitialized: [2, tileRows])     // running max m and sum l per row
        let (m, l) = (stats.data, stats.data + tileRows)
        withExtendedLifetime((qt, acc, s, stats)) { withDocuments { docs in
            forEachTile { b, g, t0, t1 in
                let rows = (t1 - t0) * group
                gather(q, b, g, t0, t1, into: qt.data)
                acc.data.update(repeating: 0, count: rows * hd)
                m.update(repeating: -.infinity, count: rows)
                l.update(repeating: 0, count: rows)
                var j0 = 0
                while j0 < t1 {
                    let j1 = min(t1, j0 + keyTile), n = j1 - j0
                    scores(qt.data, rows: rows, k: k, b, g, t0, j0, j1, into: s.data, docs)
                    // Online softmax: rescale what has been accumulated to the new row maximum.
                    let (sp, ap) = (s.data, acc.data)
                    forEachRow(rows, cols: n) { r in
                        let row = r / n
                        let sr = sp + r
                        let newMax = max(m[row], Vector.max(sr, n))
                        let shift = newMax == -.infinity ? 0 : newMax
                        VectorMath.map(sr, sr, n) { VectorMath.exp($0 - shift) }
                        let alpha = m[row] == -.infinity ? 0 : Foundation.exp(m[row] - shift)
                        l[row] = l[row] * alpha + Float(Vector.sum(sr, n))
                        m[row] = newMax
                        let ar = ap + row * hd
                        for e in 0..<hd { ar[e] *= alpha }
                    }
                    // acc: [rows, hd] += P: [rows, n] · V[b, j0..<j1, g]: [n, hd]
                    BLAS.gemm(m: rows, n: hd, k: n, a: s.data, lda: n, b: v + offset(b, j0, g, heads: kvHeads),
                              ldb: kvHeads * hd, beta: 1, c: acc.data, ldc: hd)
                    j0 = j1
                }
                let ap = acc.data
                forEachRow(rows, cols: hd) { r in
                    let row = r / hd
                    let inv = l[row] > 0 ? 1 / l[row] : 0
                    for e in 0..<hd { ap[r + e] *= inv }
                    let (tl, hl) = (row / group, row % group)
                    logSumExp[(b * time + t0 + tl) * heads + g * group + hl] = m[row] + Foundation.log(l[row])
                }
                scatter(ap, b, g, t0, t1, into: out, accumulate: false)
            }
        } }
    }

    func backward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                  out: UnsafePointer<Float>, logSumExp: UnsafePointer<Float>, dOut: UnsafePointer<Float>,
                  dq: UnsafeMutablePointer<Float>, accumulateQ: Bool,
                  dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>) {
        let (tileRows, keyTile, hd) = (tileRows, keyTile, headDim)
        let buffers = Tensor(uninitialized: [3, tileRows, hd])  // stacked Q, dO, O (then dQ)
        let (qt, dot, ot) = (buffers.data, buffers.data + tileRows * hd, buffers.data + 2 * tileRows * hd)
        let dqt = ot  // O is only needed for D; its buffer then holds dQ
        let p = Tensor(uninitialized: [tileRows, keyTile])   // P, then dS
        let dp = Tensor(uninitialized: [tileRows, keyTile])  // dP
        let rowStats = Tensor(uninitialized: [2, tileRows])  // L and D = rowsum(dO ⊙ O) per row
        let (lse, delta) = (rowStats.data, rowStats.data + tileRows)
        withExtendedLifetime((buffers, p, dp, rowStats)) { withDocuments { docs in
            forEachTile { b, g, t0, t1 in
                let rows = (t1 - t0) * group
                gather(q, b, g, t0, t1, into: qt)
                gather(dOut, b, g, t0, t1, into: dot)
                gather(out, b, g, t0, t1, into: ot)
                for row in 0..<rows {
                    lse[row] = logSumExp[(b * time + t0 + row / group) * heads + g * group + row % group]
                    delta[row] = Vector.dot(dot + row * hd, ot + row * hd, hd)
                }
                dqt.update(repeating: 0, count: rows * hd)
                var j0 = 0
                while j0 < t1 {
                    let j1 = min(t1, j0 + keyTile), n = j1 - j0
                    let (kt, vt) = (k + offset(b, j0, g, heads: kvHeads), v + offset(b, j0, g, heads: kvHeads))
                    let (dkt, dvt) = (dk + offset(b, j0, g, heads: kvHeads), dv + offset(b, j0, g, heads: kvHeads))
                    let ldkv = kvHeads * hd
                    scores(qt, rows: rows, k: k, b, g, t0, j0, j1, into: p.data, docs)
                    let pp = p.data
                    forEachRow(rows, cols: n) { r in
                        let shift = lse[r / n]
                        VectorMath.map(pp + r, pp + r, n) { VectorMath.exp($0 - shift) }
                    }
                    // dV[j0..<j1]: [n, hd] += Pᵀ: [n, rows] · dO: [rows, hd]
                    BLAS.gemm(transA: true, m: n, n: hd, k: rows, a: pp, lda: n, b: dot, ldb: hd, beta: 1, c: dvt, ldc: ldkv)
                    // dP: [rows, n] = dO: [rows, hd] · Vᵀ: [hd, n]
                    BLAS.gemm(transB: true, m: rows, n: n, k: hd, a: dot, lda: hd, b: vt, ldb: ldkv, c: dp.data, ldc: n)
                    // dS = P ⊙ (dP - D) · scale, in place of P
                    let (dpp, scale) = (dp.data, scale)
                    forEachRow(rows, cols: n) { r in
                        let d = delta[r / n]
                        for j in 0..<n { pp[r + j] = pp[r + j] * (dpp[r + j] - d) * scale }
                    }
                    // dQ: [rows, hd] += dS: [rows, n] · K: [n, hd]
                    BLAS.gemm(m: rows, n: hd, k: n, a: pp, lda: n, b: kt, ldb: ldkv, beta: 1, c: dqt, ldc: hd)
                    // dK[j0..<j1]: [n, hd] += dSᵀ: [n, rows] · Q: [rows, hd]
                    BLAS.gemm(transA: true, m: n, n: hd, k: rows, a: pp, lda: n, b: qt, ldb: hd, beta: 1, c: dkt, ldc: ldkv)
                    j0 = j1
                }
                scatter(dqt, b, g, t0, t1, into: dq, accumulate: accumulateQ)
            }
        } }
    }

    private func withDocuments(_ body: (UnsafeBufferPointer<Int32>?) -> Void) {
        if let documents { documents.withUnsafeBufferPointer { body($0) } } else { body(nil) }
    }
}
