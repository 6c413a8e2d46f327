import NN

/// One parameter of a Gemma model, with everything the rest of the package needs to know about it: its
/// Hugging Face name and full shape, how Hugging Face initialises it, whether AdamW decays it, how it
/// splits over the mesh's `model` axis, and whether LoRA adapts it. ``GemmaParameter/table`` is the
/// single place this is written down; the model's registration and initialisation, ``TensorParallel``,
/// the optimizer (through ``NN/ParameterStore/Entry/decay``) and the `.h5` / Hugging Face readers and
/// writers (through the store's names and full shapes) all read it.
///
/// Legend: `D` hidden, `F` intermediate, `H` heads, `KV` kv heads, `hd` head_dim, `V` vocabulary, `M`
/// ranks on the `model` axis.
public struct GemmaParameter: Sendable, Equatable {
    /// What a parameter is. A decoder layer's roles repeat once per layer.
    public enum Role: String, Sendable, CaseIterable {
        case embedding, inputNorm, q, k, v, o, postNorm, gate, up, down, finalNorm, score
    }

    /// Where a role sits in the model, which fixes its name and its place in the store (HF's order).
    public enum Scope: Sendable {
        /// Before the decoder layers: `model.<name>`.
        case first
        /// Once per decoder layer `i`: `model.layers.<i>.<name>`.
        case layer
        /// After the decoder layers.
        case last
        /// Only on a reward model (``GemmaModel/Head/reward``), after everything else.
        case rewardHead
    }

    /// Initial values, as Hugging Face's `GemmaPreTrainedModel._init_weights` sets them.
    public enum Initialization: Sendable, Equatable {
        /// normal(0, `initializer_range`) (`nn.Linear`).
        case normal
        /// normal(0, `initializer_range`), then the row of `pad_token_id` zeroed (`nn.Embedding` with
        /// `padding_idx`).
        case normalPaddingRowZero
        /// Zeros: Gemma's RMSNorm stores the offset `w` of its `(1 + w)` scale.
        case zeros
    }

    /// How the full tensor splits over the `M` ranks of the `model` axis (Megatron; Docs/Distributed.md).
    public enum Split: Sendable, Equatable {
        /// Every rank holds all of it.
        case replicated
        /// Output rows: column-parallel projections and the vocabulary-parallel embedding (padded to a
        /// multiple of `M` rows).
        case rows
        /// Input columns: row-parallel projections.
        case columns
        /// k/v projections: ``rows`` (this rank's `KV/M` kv heads) when `KV >= M`; otherwise every rank
        /// holds all kv heads, uses one, and the gradients are summed over `model`.
        case kvHeads
    }

    /// The row of the table this parameter comes from.
    public let role: Role
    /// The decoder layer, for ``Scope/layer`` roles.
    public let layer: Int?
    /// Hugging Face's name: the store's, the `.h5` file's (`/params/<name>`) and the safetensors key.
    public let name: String
    /// The full (unsharded) shape, HF's `[out, in]` for linear weights.
    public let shape: [Int]
    public let initialization: Initialization
    /// Whether AdamW's weight decay applies (unless `train.decay_norms_and_embeddings` decays everything).
    public let decays: Bool
    public let split: Split
    /// PEFT's module name when LoRA can adapt this weight (`q_proj` … `down_proj`), else nil.
    public let loraTarget: String?
}

extension GemmaParameter {
    /// One row of the table: a role before it is placed in a layer and sized for a config.
    public struct Row: Sendable {
        public let role: Role
        public let scope: Scope
        /// The name after the scope's prefix.
        public let suffix: String
        /// The full shape for a config, from its dimensions.
        public let shape: @Sendable (Dimensions) -> [Int]
        public let initialization: Initialization
        public let decays: Bool
        public let split: Split
        /// PEFT's module name when LoRA can adapt the weight.
        public let loraTarget: String?

        init(_ role: Role, _ scope: Scope, _ suffix: String, _ shape: @escaping @Sendable (Dimensions) -> [Int],
             _ initialization: Initialization, _ decays: Bool, _ split: Split, _ loraTarget: String?) {
            (self.role, self.scope, self.suffix, self.shape) = (role, scope, suffix, shape)
            (self.initialization, self.decays, self.split, self.loraTarget) = (initialization, decays, split, loraTarget)
        }
    }

    /// A config's dimensions under the legend's short names (`qw = H·hd`, `kvw = KV·hd`).
    public struct Dimensions: Sendable {
        public let V: Int, D: Int, F: Int, qw: Int, kvw: Int
        init(_ c: GemmaConfig) {
            (V, D, F, qw, kvw) = (c.vocabSize, c.hiddenSize, c.intermediateSize, c.numAttentionHeads * c.headDim,
                                  c.numKeyValueHeads * c.headDim)
        }
    }

    /// Every parameter role of Gemma, in Hugging Face's (and the store's) order within its scope.
    public static let table: [Row] = [
        // role       scope        name after the scope's prefix     full shape           init                   decays split       LoRA
        Row(.embedding, .first,      "embed_tokens.weight",             { [$0.V, $0.D] },     .normalPaddingRowZero, false, .rows,       nil),
        Row(.inputNorm, .layer,      "input_layernorm.weight",          { [$0.D] },           .zeros,                false, .replicated, nil),
        Row(.q,         .layer,      "self_attn.q_proj.weight",         { [$0.qw, $0.D] },    .normal,               true,  .rows,       "q_proj"),
        Row(.k,         .layer,      "self_attn.k_proj.weight",         { [$0.kvw, $0.D] },   .normal,               true,  .kvHeads,    "k_proj"),
        Row(.v,         .layer,      "self_attn.v_proj.weight",         { [$0.kvw, $0.D] },   .normal,               true,  .kvHeads,    "v_proj"),
        Row(.o,         .layer,      "self_attn.o_proj.weight",         { [$0.D, $0.qw] },    .normal,               true,  .columns,    "o_proj"),
        Row(.postNorm,  .layer,      "post_attention_layernorm.weight", { [$0.D] },           .zeros,                false, .replicated, nil),
        Row(.gate,      .layer,      "mlp.gate_proj.weight",            { [$0.F, $0.D] },     .normal,               true,  .rows,       "gate_proj"),
        Row(.up,        .layer,      "mlp.up_proj.weight",              { [$0.F, $0.D] },     .normal,               true,  .rows,       "up_proj"),
        Row(.down,      .layer,      "mlp.down_proj.weight",            { [$0.D, $0.F] },     .normal,               true,  .columns,    "down_proj"),
        Row(.finalNorm, .last,       "norm.weight",                     { [$0.D] },           .zeros,                false, .replicated, nil),
        Row(.score,     .rewardHead, "score.weight",                    { [1, $0.D] },        .normal,               true,  .replicated, nil),
    ]

    /// The row of `role`.
    public static func row(_ role: Role) -> Row { table.first { $0.role == role }! }

    /// Hugging Face's name of `role` (in decoder layer `layer` for a per-layer role).
    public static func name(_ role: Role, layer: Int? = nil) -> String {
        let row = row(role)
        precondition((row.scope == .layer) == (layer != nil), "GemmaParameter.name: \(role) needs \(row.scope == .layer ? "a" : "no") layer")
        switch row.scope {
        case .first, .last: return "model." + row.suffix
        case .layer: return "model.layers.\(layer!)." + row.suffix
        case .rewardHead: return row.suffix
        }
    }

    /// Every parameter of a model of `config` with `head`, in the store's order (Hugging Face's):
    /// the embedding, each layer's nine tensors, the final norm, then `score` on a reward model.
    public static func all(_ config: GemmaConfig, head: GemmaModel.Head = .causalLM) -> [GemmaParameter] {
        let dimensions = Dimensions(config)
        func make(_ row: Row, layer: Int?) -> GemmaParameter {
            GemmaParameter(role: row.role, layer: layer, name: name(row.role, layer: layer), shape: row.shape(dimensions),
                           initialization: row.initialization, decays: row.decays, split: row.split, loraTarget: row.loraTarget)
        }
        let scoped = { (scope: Scope) in table.filter { $0.scope == scope } }
        var out = scoped(.first).map { make($0, layer: nil) }
        for i in 0..<config.numHiddenLayers { out += scoped(.layer).map { make($0, layer: i) } }
        out += scoped(.last).map { make($0, layer: nil) }
        if head == .reward { out += scoped(.rewardHead).map { make($0, layer: nil) } }
        return out
    }

    /// Elements of the full tensor.
    public var count: Int { shape.reduce(1, *) }

    /// This parameter's shard on rank `part` of the `parts` ranks of the `model` axis; `sharesKV` when
    /// there are fewer kv heads than ranks (k and v then stay whole on every rank, gradients summed).
    public func sharding(part: Int, parts: Int, sharesKV: Bool) -> Sharding {
        switch split {
        case .replicated: .replicated(shape)
        case .rows: Sharding(.rows, fullShape: shape, part: part, parts: parts)
        case .columns: Sharding(.columns, fullShape: shape, part: part, parts: parts)
        case .kvHeads: sharesKV ? Sharding(.replicated, fullShape: shape, sumsGradient: true)
                                : Sharding(.rows, fullShape: shape, part: part, parts: parts)
        }
    }
}
