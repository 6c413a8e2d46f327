import Autograd

/// Samples replies to several prompts at once. Each prompt is prefilled into a KV cache of its own; then
/// every decoding step feeds the next token of all unfinished sequences as one batch, so the projections,
/// the MLP and the output projection are matrix products over the batch (`[B, D] x [D, F]`) instead of
/// matrix-vector products, while attention runs per sequence over its own cache (sequences of different
/// lengths need no padding or mask). A sequence leaves the batch at a stop token, at `maxTokens`, or when
/// its context is full; each draws from its own seeded ``Sampler``, so a reply is the same whatever else
/// is in the batch (up to float re-association of the batched products).
public enum BatchGenerator {
    /// The replies to `prompts` (stop tokens not included), in order.
    /// - Parameters:
    ///   - options: one per prompt (their seeds make each reply reproducible).
    /// - Throws: ``Generator/ContextFull`` when a prompt does not fit the context.
    public static func generate(_ model: GemmaModel, prompts: [[Int32]], options: [SamplingOptions], stopTokens: Set<Int32>,
                                maxTokens: Int) throws -> [[Int32]] {
        precondition(options.count == prompts.count, "BatchGenerator: \(options.count) options for \(prompts.count) prompts")
        let config = model.config
        var samplers = options.map(Sampler.init)
        var caches = [KVCache?](repeating: nil, count: prompts.count)  // nil for an empty prompt
        var replies = [[Int32]](repeating: [], count: prompts.count)
        var next = [Int32](repeating: 0, count: prompts.count)
        for (b, prompt) in prompts.enumerated() where !prompt.isEmpty {
            guard prompt.count < config.maxPositionEmbeddings else {
                throw Generator.ContextFull(needed: prompt.count + 1, capacity: config.maxPositionEmbeddings)
            }
            let cache = KVCache(config: config, capacity: min(config.maxPositionEmbeddings, prompt.count + maxTokens + 1))
            next[b] = samplers[b].next(model.step(prompt, cache: cache))
            caches[b] = cache
        }
        var active = prompts.indices.filter { caches[$0] != nil }
        while true {
            active = active.filter { b in
                let cache = caches[b]!
                guard !stopTokens.contains(next[b]) else { return false }
                replies[b].append(next[b])
                return replies[b].count < maxTokens && cache.length < cache.capacity
            }
            guard !active.isEmpty else { return replies }
            let logits = decodeStep(model, ids: active.map { next[$0] }, caches: active.map { caches[$0]! })
            for (r, b) in active.enumerated() {
                next[b] = samplers[b].next(Array(logits[(r * config.vocabSize)..<((r + 1) * config.vocabSize)]))
            }
        }
    }

    /// One token for each of `caches`' sequences, `ids[r]` at position `caches[r].length`: the next-token
    /// logits `[R, V]`, row-major.
    static func decodeStep(_ model: GemmaModel, ids: [Int32], caches: [KVCache]) -> [Float] {
        let c = model.config
        return withNoGrad {
            let positions = caches.map { Int32($0.length) }
            let h = model.forward(ids: ids, batch: ids.count, positions: positions) { layer, q, k, v in
                // q: [R, 1, H, hd], k and v: [R, 1, KV, hd]; each row attends over its own cache.
                let (qRow, kvRow) = (c.numAttentionHeads * c.headDim, c.numKeyValueHeads * c.headDim)
                let out = Tensor(zeros: q.shape)
                for (r, cache) in caches.enumerated() {
                    let o = cache.attend(layer: layer, q: q.window(offset: r * qRow, shape: [1, 1, c.numAttentionHeads, c.headDim]),
                                         k: k.window(offset: r * kvRow, shape: [1, 1, c.numKeyValueHeads, c.headDim]),
                                         v: v.window(offset: r * kvRow, shape: [1, 1, c.numKeyValueHeads, c.headDim]))
                    (out.data + r * qRow).update(from: o.data, count: qRow)
                }
                return out
            }
            for cache in caches { cache.advance(by: 1) }
            return matmul(h, model.embed, transposeB: true).scalars  // [R, V]
        }
    }
}
