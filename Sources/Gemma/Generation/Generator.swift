/// Autoregressive generation with a ``KVCache``: feeds a prompt, then samples one token at a time until
/// a stop token or the token limit. Keeps its cache between calls, so a chat continues a conversation by
/// feeding only the new turn.
public final class Generator {
    public let model: GemmaModel
    public let cache: KVCache
    /// Token ids that end a reply (`<eos>`, `<end_of_turn>`).
    public var stopTokens: Set<Int32>
    var sampler: Sampler
    /// The last token that entered the cache (a stop token when the reply ended on one).
    public private(set) var lastToken: Int32?

    public init(model: GemmaModel, options: SamplingOptions, stopTokens: Set<Int32>, capacity: Int? = nil) {
        self.model = model
        cache = KVCache(model: model, capacity: capacity)
        self.stopTokens = stopTokens
        sampler = Sampler(options)
    }

    /// The prompt does not fit in what is left of the context window.
    public struct ContextFull: Error, CustomStringConvertible {
        public let needed: Int, capacity: Int
        public var description: String {
            "the conversation needs \(needed) tokens but the context holds \(capacity) (max_position_embeddings)"
        }
    }

    /// Appends `prompt` to the conversation and generates up to `maxTokens` tokens, calling `onToken` with
    /// each as soon as it is chosen (return false to stop). Every chosen token, a stop token included,
    /// enters the cache (it is part of the conversation); the stop token is not reported or returned.
    /// Generation also ends when the context window is full.
    @discardableResult
    public func generate(prompt: [Int32], maxTokens: Int, onToken: (Int32) -> Bool = { _ in true }) throws -> [Int32] {
        guard !prompt.isEmpty else { return [] }
        guard cache.length + prompt.count < cache.capacity else {
            throw ContextFull(needed: cache.length + prompt.count + 1, capacity: cache.capacity)
        }
        var produced: [Int32] = []
        var logits = model.step(prompt, cache: cache)
        lastToken = prompt.last
        while produced.count < maxTokens, cache.length < cache.capacity {
            let token = sampler.next(logits)
            let stop = stopTokens.contains(token)
            if !stop { produced.append(token) }
            let more = !stop && onToken(token)
            logits = model.step([token], cache: cache)
            lastToken = token
            if !more { break }
        }
        return produced
    }
}
