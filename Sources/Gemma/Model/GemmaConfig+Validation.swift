extension GemmaConfig {
    /// A config the model cannot be built from.
    public struct InvalidConfig: Error, CustomStringConvertible {
        public let key: String, message: String
        public var description: String { "invalid model config: \(key) \(message)" }
    }

    /// Checks what the model needs: positive sizes, kv heads dividing heads, an even head_dim (RoPE
    /// rotates pairs), special token ids inside the vocabulary. Errors name the HF key.
    public func validate() throws {
        let positive: [(String, Int)] = [
            ("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("intermediate_size", intermediateSize),
            ("num_hidden_layers", numHiddenLayers), ("num_attention_heads", numAttentionHeads),
            ("num_key_value_heads", numKeyValueHeads), ("head_dim", headDim),
            ("max_position_embeddings", maxPositionEmbeddings),
        ]
        for (key, value) in positive where value <= 0 {
            throw InvalidConfig(key: key, message: "must be positive, got \(value)")
        }
        guard numAttentionHeads % numKeyValueHeads == 0 else {
            throw InvalidConfig(key: "num_key_value_heads",
                                message: "(\(numKeyValueHeads)) must divide num_attention_heads (\(numAttentionHeads))")
        }
        guard headDim % 2 == 0 else {
            throw InvalidConfig(key: "head_dim", message: "must be even for rotary embeddings, got \(headDim)")
        }
        guard rmsNormEps > 0 else { throw InvalidConfig(key: "rms_norm_eps", message: "must be positive, got \(rmsNormEps)") }
        guard ropeTheta > 0 else { throw InvalidConfig(key: "rope_theta", message: "must be positive, got \(ropeTheta)") }
        for (key, id) in [("pad_token_id", padTokenId), ("eos_token_id", eosTokenId), ("bos_token_id", bosTokenId)]
        where id < 0 || id >= vocabSize {
            throw InvalidConfig(key: key, message: "\(id) is outside the vocabulary 0..<\(vocabSize)")
        }
    }
}
