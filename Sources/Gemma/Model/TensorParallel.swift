import Autograd
import NN

/// How a ``GemmaModel`` is split over the `model` axis of the mesh (Megatron layout,
/// Docs/Distributed.md). With `M` ranks in the group, rank `m` holds (each parameter's ``GemmaParameter/Split``
/// in ``GemmaParameter/table``):
///
///     q_proj, gate_proj, up_proj        rows   (its H/M query heads, its F/M hidden units)
///     k_proj, v_proj                    rows when KV >= M (its KV/M heads); otherwise the whole
///                                       tensor, of which it uses kv head m / (M/KV) (gradients summed)
///     o_proj, down_proj                 columns (the inputs of its heads / units)
///     embed_tokens                      rows m·Vp/M ..< (m+1)·Vp/M of the vocabulary padded to Vp
///     norms, score                      replicated
///
/// Each attention and MLP block then costs one all-reduce forward (after o / down) and one backward
/// (before q/k/v / gate/up); the embedding one forward; the cross-entropy two small ones (row max, then sum-exp and target logit).
public struct TensorParallel {
    /// How a loader picks the split of a model from its config (nil: whole).
    public typealias Choice = (GemmaConfig) throws -> TensorParallel?

    /// The ranks sharing the model.
    public let group: any ShardGroup
    public var rank: Int { group.rank }
    public var size: Int { group.size }
    /// Query heads on this rank.
    public let heads: Int
    /// Key/value heads this rank computes (1 when kv heads are shared between ranks).
    public let kvHeads: Int
    /// Whether every rank holds all kv heads' weights (KV < M) and uses only ``kvHead``.
    public let sharesKV: Bool
    /// The kv head this rank uses when ``sharesKV``.
    public let kvHead: Int
    /// The rows of the padded vocabulary this rank holds.
    public let vocab: VocabShard

    /// The layout of `config` over `group`, or an error naming the config key that does not divide.
    public init(config c: GemmaConfig, group: any ShardGroup) throws {
        let m = group.size
        try Self.check(c, ranks: m)
        self.group = group
        heads = c.numAttentionHeads / m
        sharesKV = c.numKeyValueHeads < m
        kvHeads = sharesKV ? 1 : c.numKeyValueHeads / m
        kvHead = sharesKV ? group.rank / (m / c.numKeyValueHeads) : 0
        let rows = (c.vocabSize + m - 1) / m
        vocab = VocabShard(group: group, firstRow: group.rank * rows,
                           validRows: max(0, min(rows, c.vocabSize - group.rank * rows)), vocabulary: c.vocabSize)
    }

    /// Checks that `config` splits over `ranks` ranks of the `model` axis; the error names the config key.
    public static func check(_ c: GemmaConfig, ranks m: Int) throws {
        guard c.numAttentionHeads % m == 0 else {
            throw GemmaConfig.InvalidConfig(key: "num_attention_heads", message: "(\(c.numAttentionHeads)) is not a multiple of mesh.model (\(m))")
        }
        guard c.intermediateSize % m == 0 else {
            throw GemmaConfig.InvalidConfig(key: "intermediate_size", message: "(\(c.intermediateSize)) is not a multiple of mesh.model (\(m))")
        }
        if c.numKeyValueHeads >= m {
            guard c.numKeyValueHeads % m == 0 else {
                throw GemmaConfig.InvalidConfig(key: "num_key_value_heads", message: "(\(c.numKeyValueHeads)) is not a multiple of mesh.model (\(m)); use a mesh.model that divides it or is a multiple of it")
            }
        } else {
            guard m % c.numKeyValueHeads == 0 else {
                throw GemmaConfig.InvalidConfig(key: "num_key_value_heads", message: "(\(c.numKeyValueHeads)) does not divide mesh.model (\(m))")
            }
        }
    }

    /// How parameter `p` is split on this rank (its row's ``GemmaParameter/Split``).
    func sharding(of p: GemmaParameter) -> Sharding { p.sharding(part: rank, parts: size, sharesKV: sharesKV) }
}
