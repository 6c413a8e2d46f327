import Foundation

/// The target value that marks a token as ignored (no loss, no gradient), as in PyTorch.
public let ignoreIndex: Int32 = -100

/// Cross-entropy of the next-token distribution, fused with the output projection so the `[N, V]`
/// logits are never materialised (Gemma ties this projection to the embedding table).
///
///     logits = hidden · weightᵀ                                   // [N, V], one vocabulary chunk at a time
///     loss   = Σ_{n: targets[n] != -100} (logsumexp(logits[n]) - logits[n, targets[n]]) / (normalizer ?? count)
///
/// Forward walks the vocabulary in chunks of `chunkSize` columns: one sgemm gives the chunk's logits
/// `[N, Vc]`, and each row folds them into a running max and sum of exponentials (online logsumexp) and
/// picks up its target logit when the chunk holds it. Only the per-row logsumexp `[N]` is saved.
/// Backward takes each chunk's logits (kept from forward in an `[N, V]` buffer when that is at most
/// ``crossEntropyLogitCacheBytes``, else recomputed), turns them in place into
/// `dlogits = (softmax - onehot(target)) · g / (normalizer ?? count)` (zero for ignored rows), then
/// `dHidden += dlogits · W[chunk]` and `dW[chunk] = dlogitsᵀ · hidden` by sgemm. Peak scratch is one
/// `[N, Vc]` buffer (or the kept logits); the cost is three `N·V·D` products (forward, two gradients),
/// four when the logits are recomputed, plus two passes of `exp` over `N·V` elements.
///
/// - Parameters:
///   - hidden: `[N, D]` final hidden states (`N = B*T`).
///   - weight: `[V, D]` output projection (the tied embedding table).
///   - targets: `N` token ids in `0..<V`, or ``ignoreIndex`` (-100) for tokens that carry no loss.
///     Any other value stops with an error naming the row and the value.
///   - normalizer: the divisor of the summed loss. Nil divides by the local `count`; pass the token count
///     of the whole global batch when gradients are accumulated over micro-batches or ranks, so that the
///     summed gradients equal those of one big batch. Must be positive.
///   - chunkSize: vocabulary columns per chunk. At `N = 2048, D = 512, V = 8192` the cost is flat from 512
///     to 8192 columns; 2048 keeps sgemm's panels large while the `[N, Vc]` scratch stays 16 MiB.
///   - logitCacheBytes: the largest `[N, V]` logits kept from forward to backward; larger ones are
///     recomputed chunk by chunk in backward (0 always recomputes).
///   - shard: for the vocabulary-parallel loss, the rows of the vocabulary `weight` holds on this rank
///     (``VocabShard``). Each rank folds its own columns into per-row (max, sum-exp, target logit);
///     three reductions over `shard.group` (max, then sum-exp and target logit together) give every rank
///     the full logsumexp, so the loss is the same on every rank. Backward writes this rank's part of
///     `dHidden` (wrap `hidden` in ``enterShards(_:_:)`` so the parts are summed) and its rows of
///     `dWeight` (padding rows get zero).
/// - Returns: `loss` of shape `[1]`, and `count`, the number of targets that are not ignored. When
///   `count` is 0 and `normalizer` is nil the loss is 0 and the gradients are zero.
public func crossEntropy(
    hidden: Tensor, weight: Tensor, targets: [Int32], normalizer: Int? = nil, chunkSize: Int = 2048,
    shard: VocabShard? = nil, logitCacheBytes: Int = crossEntropyLogitCacheBytes
) -> (loss: Tensor, count: Int) {
    crossEntropy(hidden: hidden, weight: .float32(weight), targets: targets, normalizer: normalizer, chunkSize: chunkSize,
                 shard: shard, logitCacheBytes: logitCacheBytes)
}

/// ``crossEntropy(hidden:weight:targets:normalizer:chunkSize:shard:logitCacheBytes:)`` with the output
/// projection a ``Weight``: a frozen bf16 table is widened one vocabulary chunk at a time, in forward
/// and again in backward (it has no gradient).
public func crossEntropy(
    hidden: Tensor, weight table: Weight, targets: [Int32], normalizer: Int? = nil, chunkSize: Int = 2048,
    shard: VocabShard? = nil, logitCacheBytes: Int = crossEntropyLogitCacheBytes
) -> (loss: Tensor, count: Int) {
    let weight = ProjectionRows(table)
    shapeCheck(hidden.rank == 2 && weight.shape.count == 2 && hidden.shape[1] == weight.shape[1],
               "crossEntropy: need hidden [N, D] and weight [V, D], got hidden \(hidden.shape), weight \(weight.shape)")
    let (n, d, rows) = (hidden.shape[0], hidden.shape[1], weight.shape[0])
    let v = shard?.vocabulary ?? rows
    shapeCheck(targets.count == n, "crossEntropy: \(targets.count) targets for hidden \(hidden.shape)")
    shapeCheck(v > 0, "crossEntropy: empty vocabulary, weight \(weight.shape)")
    shapeCheck(chunkSize > 0, "crossEntropy: chunkSize must be positive, got \(chunkSize)")
    shapeCheck(normalizer.map { $0 > 0 } ?? true,
               "crossEntropy: normalizer must be positive, got \(normalizer ?? 0)")
    var count = 0
    for (row, t) in targets.enumerated() where t != ignoreIndex {
        shapeCheck(t >= 0 && Int(t) < v,
                   "crossEntropy: target \(t) at row \(row) is outside 0..<\(v) and is not \(ignoreIndex)")
        count += 1
    }
    let valid = shard?.validRows ?? rows
    let chunks = VocabChunks(hidden: hidden, weight: weight, shard: shard, chunkSize: chunkSize, logitCacheBytes: logitCacheBytes)
    let (lse, targetLogit) = chunks.forward(hidden.data, weight, targets, group: shard?.group)
    var total = 0.0
    for row in 0..<n where targets[row] != ignoreIndex {
        total += Double(lse.data[row]) - Double(targetLogit.data[row])
    }
    let denominator = normalizer ?? count
    let loss = Tensor([denominator > 0 ? Float(total / Double(denominator)) : 0], shape: [1])
    loss.recorded("crossEntropy", [hidden] + weight.trained) { g in
        let scale = denominator > 0 ? g.item / Float(denominator) : 0
        // Nested so one pass over the chunks writes both gradients; a missing one passes nil.
        hidden.withGradBufferIf(hidden.requiresGrad) { dh, accH in
            weight.withGradBufferIfTrained { dw, accW in
                if count == 0 {  // nothing counted: the gradients are zero
                    if let dh, !accH { dh.update(repeating: 0, count: n * d) }
                    if let dw, !accW { dw.update(repeating: 0, count: rows * d) }
                    return
                }
                chunks.backward(hidden.data, weight, targets, lse: lse.data, scale: { _ in scale },
                                dHidden: dh, accumulateHidden: accH, dWeight: dw, accumulateWeight: accW)
                if let dw, !accW, valid < rows {  // padding rows: never predicted, zero gradient
                    (dw + valid * d).update(repeating: 0, count: (rows - valid) * d)
                }
            }
        }
    }
    return (loss, count)
}

/// The log-probability of each row's target under `softmax(hidden · weightᵀ)`, fused with the output
/// projection like ``crossEntropy(hidden:weight:targets:normalizer:chunkSize:shard:logitCacheBytes:)``
/// (same chunks, same vocabulary sharding): what preference optimisation and policy gradients sum per
/// sequence.
///
///     logp[n] = logits[n, targets[n]] - logsumexp(logits[n])      (0 where targets[n] == -100)
///     dlogits[n] = (onehot(targets[n]) - softmax(logits[n])) · g[n]
///
/// - Parameters: as for the cross-entropy; `targets` rows equal to ``ignoreIndex`` give 0 and no gradient.
/// - Returns: `logp` of shape `[N]`.
public func tokenLogProbs(
    hidden: Tensor, weight: Tensor, targets: [Int32], chunkSize: Int = 2048, shard: VocabShard? = nil,
    logitCacheBytes: Int = crossEntropyLogitCacheBytes
) -> Tensor {
    tokenLogProbs(hidden: hidden, weight: .float32(weight), targets: targets, chunkSize: chunkSize, shard: shard,
                  logitCacheBytes: logitCacheBytes)
}

/// ``tokenLogProbs(hidden:weight:targets:chunkSize:shard:logitCacheBytes:)`` with the output projection
/// a ``Weight`` (a bf16 table is widened a chunk at a time and has no gradient).
public func tokenLogProbs(
    hidden: Tensor, weight table: Weight, targets: [Int32], chunkSize: Int = 2048, shard: VocabShard? = nil,
    logitCacheBytes: Int = crossEntropyLogitCacheBytes
) -> Tensor {
    let weight = ProjectionRows(table)
    shapeCheck(hidden.rank == 2 && weight.shape.count == 2 && hidden.shape[1] == weight.shape[1],
               "tokenLogProbs: need hidden [N, D] and weight [V, D], got hidden \(hidden.shape), weight \(weight.shape)")
    let (n, d, rows) = (hidden.shape[0], hidden.shape[1], weight.shape[0])
    let v = shard?.vocabulary ?? rows
    shapeCheck(targets.count == n, "tokenLogProbs: \(targets.count) targets for hidden \(hidden.shape)")
    for (row, t) in targets.enumerated() where t != ignoreIndex {
        shapeCheck(t >= 0 && Int(t) < v, "tokenLogProbs: target \(t) at row \(row) is outside 0..<\(v) and is not \(ignoreIndex)")
    }
    let valid = shard?.validRows ?? rows
    let chunks = VocabChunks(hidden: hidden, weight: weight, shard: shard, chunkSize: chunkSize, logitCacheBytes: logitCacheBytes)
    let (lse, targetLogit) = chunks.forward(hidden.data, weight, targets, group: shard?.group)
    let logp = Tensor(zeros: [n])  // [N]
    for r in 0..<n where targets[r] != ignoreIndex { logp.data[r] = targetLogit.data[r] - lse.data[r] }
    logp.recorded("tokenLogProbs", [hidden] + weight.trained) { g in
        let upstream = g.data  // [N]
        hidden.withGradBufferIf(hidden.requiresGrad) { dh, accH in
            weight.withGradBufferIfTrained { dw, accW in
                // d(-logp)/dlogits is the cross-entropy's; scaling row r by -g[r] gives dlogp.
                chunks.backward(hidden.data, weight, targets, lse: lse.data, scale: { -upstream[$0] },
                                dHidden: dh, accumulateHidden: accH, dWeight: dw, accumulateWeight: accW)
                if let dw, !accW, valid < rows { (dw + valid * d).update(repeating: 0, count: (rows - valid) * d) }
            }
        }
    }
    return logp
}

/// Largest `[N, V]` logits (in bytes) the cross-entropy keeps from forward to backward instead of
/// recomputing them: 128 MiB (the bench model's `2048 x 8192` logits are 64 MiB; Gemma's 256k
/// vocabulary recomputes).
public let crossEntropyLogitCacheBytes = 128 << 20

/// The chunked kernels of ``crossEntropy(hidden:weight:targets:normalizer:chunkSize:shard:logitCacheBytes:)``: the local
/// vocabulary `0..<v` (global ids `firstRow ..< firstRow + v`) is cut into chunks of `width` columns
/// (the last may be narrower).
private struct VocabChunks {
    let n: Int, d: Int, v: Int
    /// Global id of local column 0.
    let firstRow: Int
    /// Columns per chunk (`Vc`).
    let width: Int
    /// `[N, v]`: every chunk's logits, kept from forward for backward; nil to recompute them.
    let cache: Tensor?

    /// Chunk column ranges, in order.
    var ranges: some Sequence<Range<Int>> {
        stride(from: 0, to: v, by: width).lazy.map { $0..<min($0 + width, v) }
    }

    /// Rows per thread below which a row loop stays on one thread.
    var rowGrain: Int { max(1, Vector.grain / width) }

    /// Returns each row's logsumexp `lse [N]` and target logit `targetLogit [N]` (both unspecified for
    /// rows whose target is ignored), over the whole vocabulary when `group` combines the shards.
    func forward(
        _ hidden: UnsafePointer<Float>, _ weight: ProjectionRows, _ targets: [Int32], group: (any ShardGroup)?
    ) -> (lse: Tensor, targetLogit: Tensor) {
        let widened = weight.scratch(rows: width)
        let scratch = Tensor(uninitialized: cache == nil ? [n, width] : [0])  // [N, Vc] one chunk of logits
        let runningMax = Tensor(repeating: -.infinity, shape: [n])  // [N] max of the logits seen so far
        let runningSum = Tensor(zeros: [n])                         // [N] Σ e^(logit - runningMax) so far
        let targetLogit = Tensor(zeros: [n])                        // [N]
        let (m, s, picked) = (runningMax.data, runningSum.data, targetLogit.data)
        defer { withExtendedLifetime((scratch, runningMax, widened)) {} }  // only raw pointers are used below
        for cols in ranges {
            let w = cols.count
            let (logits, ld) = chunkBuffer(cols, scratch)
            BLAS.gemm(transB: true, m: n, n: w, k: d, a: hidden, b: weight.rows(cols, widened),
                      c: logits, ldc: ld)                           // [N, w] = hidden [N, D] · W[cols]ᵀ [D, w]
            Parallel.chunks(n, grain: rowGrain) { r0, r1 in
                for r in r0..<r1 {
                    guard targets[r] != ignoreIndex else { continue }
                    let t = Int(targets[r]) - firstRow
                    let x = UnsafePointer(logits + r * ld)
                    let newMax = max(m[r], Vector.max(x, w))
                    s[r] = s[r] * Foundation.exp(m[r] - newMax) + sumExp(x, w, minus: newMax)
                    m[r] = newMax
                    if cols.contains(t) { picked[r] = x[t - cols.lowerBound] }
                }
            }
        }
        if let group { combine(group, runningMax, runningSum, targetLogit, targets) }
        for r in 0..<n { s[r] = m[r] + Foundation.log(s[r]) }  // the sum becomes the logsumexp
        return (runningSum, targetLogit)
    }

    /// Where chunk `cols`'s logits live and their row stride: in the kept logits, or in `scratch`.
    private func chunkBuffer(_ cols: Range<Int>, _ scratch: Tensor) -> (UnsafeMutablePointer<Float>, Int) {
        if let cache { return (cache.data + cols.lowerBound, v) }
        return (scratch.data, cols.count)
    }

    /// Turns each rank's (max, sum-exp, target logit) over its columns into the whole vocabulary's:
    /// `M = max_ranks m`, `s = Σ_ranks s·e^(m - M)`, target logit summed (zero on the ranks without it).
    private func combine(_ group: any ShardGroup, _ runningMax: Tensor, _ runningSum: Tensor,
                         _ targetLogit: Tensor, _ targets: [Int32]) {
        let localMax = runningMax.copy()
        group.max(runningMax.buffer)
        let both = Tensor(uninitialized: [2, n])  // [sum-exp; target logit], one reduction
        defer { withExtendedLifetime((localMax, both)) {} }  // only raw pointers are used below
        let (m, lm, s, both0, both1) = (runningMax.data, localMax.data, runningSum.data, both.data, both.data + n)
        for r in 0..<n {
            let counted = targets[r] != ignoreIndex && lm[r] > -.infinity
            both0[r] = counted ? s[r] * Foundation.exp(lm[r] - m[r]) : 0
            both1[r] = targetLogit.data[r]
        }
        group.sum(both.buffer)
        s.update(from: both0, count: n)
        targetLogit.data.update(from: both1, count: n)
    }

    /// Writes or adds the gradients of `Σ_counted scale(row) · (lse - logit[target])` into
    /// `dHidden [N, D]` and `dWeight [V, D]` (either may be nil).
    func backward(
        _ hidden: UnsafePointer<Float>, _ weight: ProjectionRows, _ targets: [Int32],
        lse: UnsafePointer<Float>, scale: (Int) -> Float,
        dHidden: UnsafeMutablePointer<Float>?, accumulateHidden: Bool,
        dWeight: UnsafeMutablePointer<Float>?, accumulateWeight: Bool
    ) {
        // [N, Vc] one chunk of logits, then of dlogits, unless forward kept them all
        let scratch = Tensor(uninitialized: cache == nil ? [n, width] : [0])
        let widened = weight.scratch(rows: width)
        defer { withExtendedLifetime((scratch, widened)) {} }
        var hiddenWritten = accumulateHidden              // false until dHidden holds values (it starts uninitialised)
        for cols in ranges {
            let w = cols.count
            let wChunk = weight.rows(cols, widened)        // [w, D]
            let (dlogits, ld) = chunkBuffer(cols, scratch)
            if cache == nil { BLAS.gemm(transB: true, m: n, n: w, k: d, a: hidden, b: wChunk, c: dlogits) }
            Parallel.chunks(n, grain: rowGrain) { r0, r1 in
                for r in r0..<r1 {
                    let t = Int(targets[r]) - firstRow
                    let x = dlogits + r * ld
                    guard targets[r] != ignoreIndex else { x.update(repeating: 0, count: w); continue }
                    let s = scale(r)
                    expInPlace(x, w, minus: lse[r], scale: s)  // softmax · scale
                    if cols.contains(t) { x[t - cols.lowerBound] -= s }
                }
            }
            if let dHidden {  // [N, D] += dlogits [N, w] · W[cols] [w, D]
                BLAS.gemm(m: n, n: d, k: w, a: dlogits, lda: ld, b: wChunk, beta: hiddenWritten ? 1 : 0, c: dHidden)
                hiddenWritten = true
            }
            if let dWeight {  // dW[cols] [w, D] = dlogitsᵀ [w, N] · hidden [N, D]; chunks are disjoint rows
                BLAS.gemm(transA: true, m: w, n: d, k: n, a: dlogits, lda: ld, b: hidden,
                          beta: accumulateWeight ? 1 : 0, c: dWeight + cols.lowerBound * d)
            }
        }
    }
}

extension VocabChunks {
    /// The chunks of `hidden [N, D] · weight [V, D]ᵀ` over this rank's valid vocabulary rows; the logits
    /// are kept from forward to backward when a gradient is recorded and they fit in `logitCacheBytes`
    /// (saving a quarter of the products).
    init(hidden: Tensor, weight: ProjectionRows, shard: VocabShard?, chunkSize: Int, logitCacheBytes: Int) {
        let (n, valid) = (hidden.shape[0], shard?.validRows ?? weight.shape[0])
        let recording = GradMode.isEnabled && (hidden.requiresGrad || weight.trained.contains { $0.requiresGrad })
        self.init(n: n, d: hidden.shape[1], v: valid, firstRow: shard?.firstRow ?? 0, width: max(1, min(chunkSize, valid)),
                  cache: recording && n * valid * 4 <= logitCacheBytes ? Tensor(uninitialized: [n, valid]) : nil)
    }
}

/// The output projection `[V, D]` of the fused losses as they read it, a chunk of rows at a time: in
/// place when it is Float32, else widened from bf16 into a `[Vc, D]` scratch buffer.
private struct ProjectionRows {
    let weight: Weight
    init(_ weight: Weight) { self.weight = weight }

    var shape: [Int] { weight.shape }
    /// The Float32 tensor that receives a gradient, if any (as a recorded op's input list).
    var trained: [Tensor] {
        guard case .float32(let t) = weight else { return [] }
        return [t]
    }

    /// Scratch for `rows` widened rows when the table is bf16.
    func scratch(rows: Int) -> Tensor? {
        guard case .bfloat16 = weight else { return nil }
        return Tensor(uninitialized: [rows, shape[1]])
    }

    /// Rows `cols` as Float32 (`[cols.count, D]`), widened into `scratch` when bf16.
    func rows(_ cols: Range<Int>, _ scratch: Tensor?) -> UnsafePointer<Float> {
        switch weight {
        case .float32(let t): return UnsafePointer(t.data + cols.lowerBound * shape[1])
        case .bfloat16(let t):
            t.widen(rows: cols, into: scratch!.data)
            return UnsafePointer(scratch!.data)
        }
    }

    /// ``Tensor/withGradBufferIf(_:_:)`` for the Float32 table when it requires a gradient, else `body(nil, false)`.
    func withGradBufferIfTrained(_ body: (UnsafeMutablePointer<Float>?, Bool) -> Void) {
        guard case .float32(let t) = weight else { return body(nil, false) }
        t.withGradBufferIf(t.requiresGrad, body)
    }
}

/// `Σ e^(x[i] - shift)` over `0..<n`.
@inline(__always)
private func sumExp(_ x: UnsafePointer<Float>, _ n: Int, minus shift: Float) -> Float {
    let s = SIMD8<Float>(repeating: shift)
    var lanes = SIMD8<Float>()
    var i = 0
    while i + 8 <= n {
        lanes += VectorMath.exp(load8(x + i) - s)
        i += 8
    }
    var result = lanes.sum()
    while i < n { result += Foundation.exp(x[i] - shift); i += 1 }
    return result
}

/// `x[i] = scale · e^(x[i] - shift)` over `0..<n`.
@inline(__always)
private func expInPlace(_ x: UnsafeMutablePointer<Float>, _ n: Int, minus shift: Float, scale: Float) {
    let (s, c) = (SIMD8<Float>(repeating: shift), SIMD8<Float>(repeating: scale))
    var i = 0
    while i + 8 <= n {
        store8(VectorMath.exp(load8(x + i) - s) * c, x + i)
        i += 8
    }
    while i < n { x[i] = scale * Foundation.exp(x[i] - shift); i += 1 }
}
