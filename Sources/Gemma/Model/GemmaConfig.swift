import Foundation

/// The architecture of a Gemma model. Coding keys are Hugging Face's `config.json` keys, so a real
/// `config.json` decodes as is (unknown keys are ignored, as transformers does).
public struct GemmaConfig: Codable, Equatable, Sendable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var numKeyValueHeads: Int
    public var headDim: Int
    public var maxPositionEmbeddings: Int
    public var rmsNormEps: Float
    public var ropeTheta: Float
    public var padTokenId: Int
    public var eosTokenId: Int
    public var bosTokenId: Int
    public var initializerRange: Float

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size"
        case hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads"
        case numKeyValueHeads = "num_key_value_heads"
        case headDim = "head_dim"
        case maxPositionEmbeddings = "max_position_embeddings"
        case rmsNormEps = "rms_norm_eps"
        case ropeTheta = "rope_theta"
        case padTokenId = "pad_token_id"
        case eosTokenId = "eos_token_id"
        case bosTokenId = "bos_token_id"
        case initializerRange = "initializer_range"
    }

    /// transformers 5 writes `rope_parameters: {rope_theta, rope_type}` instead of `rope_theta`.
    enum RopeParameterKeys: String, CodingKey {
        case ropeTheta = "rope_theta"
        case ropeType = "rope_type"
    }

    public init(
        vocabSize: Int, hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int,
        numAttentionHeads: Int, numKeyValueHeads: Int, headDim: Int, maxPositionEmbeddings: Int,
        rmsNormEps: Float = 1e-6, ropeTheta: Float = 10000, padTokenId: Int = 0, eosTokenId: Int = 1,
        bosTokenId: Int = 2, initializerRange: Float = 0.02
    ) {
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.numKeyValueHeads = numKeyValueHeads
        self.headDim = headDim
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
        self.padTokenId = padTokenId
        self.eosTokenId = eosTokenId
        self.bosTokenId = bosTokenId
        self.initializerRange = initializerRange
    }

    /// Decodes HF's keys; optional ones take transformers' GemmaConfig defaults.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        vocabSize = try c.decode(Int.self, forKey: .vocabSize)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        intermediateSize = try c.decode(Int.self, forKey: .intermediateSize)
        numHiddenLayers = try c.decode(Int.self, forKey: .numHiddenLayers)
        numAttentionHeads = try c.decode(Int.self, forKey: .numAttentionHeads)
        numKeyValueHeads = try c.decodeIfPresent(Int.self, forKey: .numKeyValueHeads) ?? numAttentionHeads
        headDim = try c.decodeIfPresent(Int.self, forKey: .headDim) ?? hiddenSize / numAttentionHeads
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? 8192
        rmsNormEps = try c.decodeIfPresent(Float.self, forKey: .rmsNormEps) ?? 1e-6
        if let theta = try c.decodeIfPresent(Float.self, forKey: .ropeTheta) {
            ropeTheta = theta
        } else if let rope = try? decoder.container(keyedBy: AnyKey.self)
            .nestedContainer(keyedBy: RopeParameterKeys.self, forKey: AnyKey("rope_parameters")) {
            let type = try rope.decodeIfPresent(String.self, forKey: .ropeType) ?? "default"
            guard type == "default" else {
                throw DecodingError.dataCorruptedError(forKey: .ropeType, in: rope,
                    debugDescription: "rope_parameters.rope_type '\(type)' is not supported (only 'default')")
            }
            ropeTheta = try rope.decodeIfPresent(Float.self, forKey: .ropeTheta) ?? 10000
        } else {
            ropeTheta = 10000
        }
        padTokenId = try c.decodeIfPresent(Int.self, forKey: .padTokenId) ?? 0
        eosTokenId = try c.decodeFirstIfPresent(forKey: .eosTokenId) ?? 1
        bosTokenId = try c.decodeFirstIfPresent(forKey: .bosTokenId) ?? 2
        initializerRange = try c.decodeIfPresent(Float.self, forKey: .initializerRange) ?? 0.02
    }
}

/// A coding key made from any string, for keys outside a type's `CodingKeys`.
struct AnyKey: CodingKey {
    let stringValue: String
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    var intValue: Int? { nil }
    init?(intValue: Int) { nil }
}

extension KeyedDecodingContainer {
    /// An Int, or the first element of an array of Int (HF allows a list of eos ids).
    func decodeFirstIfPresent(forKey key: Key) throws -> Int? {
        if let list = try? decodeIfPresent([Int].self, forKey: key) { return list.first }
        return try decodeIfPresent(Int.self, forKey: key)
    }
}
