import Autograd

/// Samples replies to several prompts at once. Each distinct prompt is prefilled into a KV cache once
/// (a prompt asked for several samples gets copies of it); then every decoding step feeds the next token
/// of all unfinished sequences as one batch, so the projections, the MLP and the output projection are
/// matrix products over the batch (`[B, D] x [D, F]`) instead of matrix-vector products, while attention
/// runs per sequence over its own cache (sequences of different lengths need no padding or mask). A
/// sequence leaves the batch at a stop token, at `maxTokens`, or when its context is full; each draws
/// from its own seeded ``Sampler``, so a reply is the same whatever else is in the batch (up to float
/// re-association of the batched products).
///
/// On a model split over ranks every rank of the group runs the same calls and draws the same tokens
/// (the logits are gathered whole on each).
public enum BatchGenerator {
    /// One sampled reply.
    public struct Completion: Sendable, Equatable {
        /// The reply's tokens, without the stop token.
        public var tokens: [Int32]
        /// The stop token that ended it; nil when it ran into the token limit or the context's end.
        public var stopToken: Int32?
        /// With `measuringEntropy`, the entropy (nats) of each distribution a token was drawn from, the
        /// stop token's included (`tokens.count + 1` values when it stopped, else `tokens.count`); else empty.
        public var entropies: [Float]

        public init(tokens: [Int32], stopToken: Int32?, entropies: [Float]) {
            self.tokens = tokens
            self.stopToken = stopToken
            self.entropies = entropies
        }

        /// The tokens the model chose: the reply and its stop token, if any.
        public var sampled: [Int32] { tokens + (stopToken.map { [$0] } ?? []) }
    }

    /// The replies to `prompts` (stop tokens not included), in order.
    /// - Parameters:
    ///   - options: one per prompt (their seeds make each reply reproducible).
    /// - Throws: ``Generator/ContextFull`` when a prompt does not fit the context.
    public static func generate(_ model: GemmaModel, prompts: [[Int32]], options: [SamplingOptions], stopTokens: Set<Int32>,
                                maxTokens: Int) throws -> [[Int32]] {
        try sample(model, prompts: prompts, options: options, stopTokens: stopTokens, maxTokens: maxTokens).map(\.tokens)
    }

    /// The completions of `prompts`, in order, with how each ended (and, `measuringEntropy`, the entropy
    /// of every distribution sampled from: a pass over the vocabulary per token).
    /// - Throws: ``Generator/ContextFull`` when a prompt does not fit the context.
    public static func sample(_ model: GemmaModel, prompts: [[Int32]], options: [SamplingOptions], stopTokens: Set<Int32>,
                              maxTokens: Int, measuringEntropy: Bool = false) throws -> [Completion] {
        precondition(options.count == prompts.count, "BatchGenerator: \(options.count) options for \(prompts.count) prompts")
        let config = model.config
        var samplers = options.map(Sampler.init)
        var caches = [KVCache?](repeating: nil, count: prompts.count)  // nil for an empty prompt
        var completions = [Completion](repeating: Completion(tokens: [], stopToken: nil, entropies: []), count: prompts.count)
        var logits = [[Float]](repeating: [], count: prompts.count)  // the next token's
        var prefilled: [[Int32]: Int] = [:]  // prompt -> the first sequence that holds it
        for (b, prompt) in prompts.enumerated() where !prompt.isEmpty {
            guard prompt.count < config.maxPositionEmbeddings else {
                throw Generator.ContextFull(needed: prompt.count + 1, capacity: config.maxPositionEmbeddings)
            }
            if let first = prefilled[prompt] {  // the same capacity: the same prompt and token limit
                caches[b] = caches[first]!.copy()
                logits[b] = logits[first]
                continue
            }
            let cache = KVCache(model: model, capacity: min(config.maxPositionEmbeddings, prompt.count + maxTokens + 1))
            logits[b] = model.step(prompt, cache: cache)
            caches[b] = cache
            prefilled[prompt] = b
        }
        var active = prompts.indices.filter { caches[$0] != nil }
        while true {
            active = active.filter { b in
                let cache = caches[b]!
                let token = samplers[b].next(logits[b])
                if measuringEntropy { completions[b].entropies.append(samplers[b].entropy(logits[b])) }
                guard !stopTokens.contains(token) else {
                    completions[b].stopToken = token
                    return false
                }
                completions[b].tokens.append(token)
                return completions[b].tokens.count < maxTokens && cache.length < cache.capacity
            }
            guard !active.isEmpty else { return completions }
            let next = active.map { completions[$0].tokens.last! }
            let rows = decodeStep(model, ids: next, caches: active.map { caches[$0]! })
            for (r, b) in active.enumerated() {
                logits[b] = Array(rows[(r * config.vocabSize)..<((r + 1) * config.vocabSize)])
            }
        }
    }

    /// One token for each of `caches`' sequences, `ids[r]` at position `caches[r].length`: the next-token
    /// logits `[R, V]`, row-major.
    static func decodeStep(_ model: GemmaModel, ids: [Int32], caches: [KVCache]) -> [Float] {
        let c = model.config
        let (heads, kvHeads) = (caches[0].heads, caches[0].kvHeads)  // this rank's
        return withNoGrad {
            let positions = caches.map { Int32($0.length) }
            let h = model.forward(ids: ids, batch: ids.count, positions: positions) { layer, q, k, v in
                // q: [R, 1, H, hd], k and v: [R, 1, KV, hd]; each row attends over its own cache.
                let (qRow, kvRow) = (heads * c.headDim, kvHeads * c.headDim)
                let out = Tensor(zeros: q.shape)
                for (r, cache) in caches.enumerated() {
                    let o = cache.attend(layer: layer, q: q.window(offset: r * qRow, shape: [1, 1, heads, c.headDim]),
                                         k: k.window(offset: r * kvRow, shape: [1, 1, kvHeads, c.headDim]),
                                         v: v.window(offset: r * kvRow, shape: [1, 1, kvHeads, c.headDim]))
                    (out.data + r * qRow).update(from: o.data, count: qRow)
                }
                return out
            }
            for cache in caches { cache.advance(by: 1) }
            return model.outputLogits(h)  // [R, V]
        }
    }
}
