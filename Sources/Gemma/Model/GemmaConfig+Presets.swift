/// Named architectures. `Configs/models/<name>.json` holds the same values as Hugging Face `config.json`
/// files (a test keeps the two identical), usable wherever a model config path is accepted.
extension GemmaConfig {
    /// Gemma 2B: multi-query attention (1 kv head), head_dim 256, HF's vocabulary of 256000.
    public static let gemma2B = GemmaConfig(
        vocabSize: 256_000, hiddenSize: 2048, intermediateSize: 16384, numHiddenLayers: 18,
        numAttentionHeads: 8, numKeyValueHeads: 1, headDim: 256, maxPositionEmbeddings: 8192)

    /// Gemma 7B: multi-head attention, query width 16 x 256 = 4096 != hidden 3072.
    public static let gemma7B = GemmaConfig(
        vocabSize: 256_000, hiddenSize: 3072, intermediateSize: 24576, numHiddenLayers: 28,
        numAttentionHeads: 16, numKeyValueHeads: 16, headDim: 256, maxPositionEmbeddings: 8192)

    /// The benchmark model of the kernel and training benchmarks (Docs/Performance.md).
    public static let bench = GemmaConfig(
        vocabSize: 8192, hiddenSize: 512, intermediateSize: 2048, numHiddenLayers: 8,
        numAttentionHeads: 8, numKeyValueHeads: 1, headDim: 64, maxPositionEmbeddings: 1024)

    /// A few-MB model for tests and the demo (vocabulary of the demo tokenizer).
    public static let tiny = GemmaConfig(
        vocabSize: 4096, hiddenSize: 128, intermediateSize: 512, numHiddenLayers: 4,
        numAttentionHeads: 4, numKeyValueHeads: 1, headDim: 32, maxPositionEmbeddings: 512)

    /// Presets by name: `gemma-2b`, `gemma-7b`, `bench`, `tiny`.
    public static let presets: [String: GemmaConfig] = [
        "gemma-2b": gemma2B, "gemma-7b": gemma7B, "bench": bench, "tiny": tiny,
    ]

    /// Parameter counts from the architecture alone (the causal LM's ``GemmaParameter/all(_:head:)``):
    /// `total` and `nonEmbedding` (everything but the tied `[V, D]` embedding).
    public var parameterCount: (total: Int, nonEmbedding: Int) {
        let parameters = GemmaParameter.all(self)
        let total = parameters.reduce(0) { $0 + $1.count }
        return (total, total - parameters.filter { $0.role == .embedding }.reduce(0) { $0 + $1.count })
    }
}
