import Autograd
import Foundation
import NN

/// A Gemma (v1) decoder, exactly as Hugging Face's `GemmaForCausalLM` computes it, differentiable
/// through the tape. Legend: `B` batch, `T` time, `N = B*T`, `D` hidden, `H` heads, `KV` kv heads,
/// `hd` head_dim, `F` intermediate, `V` vocabulary.
///
///     h = E[ids] · sqrt(D)                                        // [N, D]
///     per layer:  x = rmsNorm(h, input_layernorm)                 // (1 + w) scale
///                 q, k, v = x·Wqᵀ, x·Wkᵀ, x·Wvᵀ, RoPE on q and k   // [B, T, H|KV, hd]
///                 h = h + attention(q, k, v)·Woᵀ                  // causal, kv head h / (H/KV)
///                 x = rmsNorm(h, post_attention_layernorm)
///                 h = h + (gelu_tanh(x·Wgateᵀ) ⊙ x·Wupᵀ)·Wdownᵀ
///     logits = rmsNorm(h, norm) · Eᵀ                              // tied output
///
/// Parameters live in one ``ParameterStore`` under Hugging Face's names, as ``GemmaParameter/table`` lists them.
/// With ``LoRA`` the table's weights are frozen and each target projection gains trainable adapters,
/// stored after them (PEFT's names); the frozen weights may be stored as bf16 (``frozenDType``).
public final class GemmaModel {
    public let config: GemmaConfig
    /// Every parameter's row of the table (``GemmaParameter/all(_:head:)``), in the order of
    /// ``parameters``' entries.
    public let parameterTable: [GemmaParameter]
    /// The table's parameters, then (with ``lora``) the adapters.
    public let parameters: ParameterStore
    /// The low-rank adaptation of the projections; nil trains (or runs) the weights themselves.
    public let lora: LoRA?
    let rotary: RotaryTable

    /// The views of one decoder layer's weights (HF `[out, in]` layout).
    struct Layer {
        let inputNorm: Weight      // [D]
        let q: Weight              // [H*hd, D]
        let k: Weight              // [KV*hd, D]
        let v: Weight              // [KV*hd, D]
        let o: Weight              // [D, H*hd]
        let postNorm: Weight       // [D]
        let gate: Weight           // [F, D]
        let up: Weight             // [F, D]
        let down: Weight           // [D, F]
        /// The LoRA adapters of the layer's target projections.
        let adapters: [GemmaParameter.Role: Adapter]

        /// Every Float32 weight of the layer, adapters included (what a recomputed block's gradients
        /// flow into; bf16 weights have none).
        var tensors: [Tensor] {
            let weights: [Tensor] = [inputNorm, q, k, v, o, postNorm, gate, up, down].compactMap {
                guard case .float32(let t) = $0 else { return nil }
                return t
            }
            return weights + adapters.keys.sorted { $0.rawValue < $1.rawValue }.flatMap { [adapters[$0]!.a, adapters[$0]!.b] }
        }
    }
    let embed: Weight              // [V, D]
    let finalNorm: Weight          // [D]
    let layers: [Layer]
    /// The reward model's head `score.weight: [1, D]` (TRL / `GemmaForSequenceClassification`), if any.
    let score: Tensor?

    /// What the model computes at its output.
    public enum Head: String, Sendable {
        /// Next-token logits through the tied embedding (`GemmaForCausalLM`).
        case causalLM = "causal-lm"
        /// One scalar reward per sequence from `score.weight` (`GemmaForSequenceClassification`, 1 label).
        case reward = "reward-model"
    }
    public let head: Head
    /// How the model is split over the mesh's `model` axis; nil when this rank holds all of it.
    public let tensorParallel: TensorParallel?
    /// Activation recomputation (`train.recompute: block`): while gradients are recorded, each decoder
    /// block keeps only its input `[N, D]` and recomputes its inside during backward. Same values and
    /// gradients, bit for bit; less memory, one more forward pass of the blocks per step.
    public var recomputesBlocks = false
    /// Dropout on the LoRA adapters' input while training (``LoRADropout``); nil = none.
    public var loraDropout: LoRADropout?
    /// Whether the LoRA adapters take part in forward passes; false runs the frozen base alone
    /// (``withoutAdapters(_:)``).
    public private(set) var adaptersEnabled = true

    /// `body` with the adapters switched off: the base model's outputs (PEFT's `disable_adapter()`), which
    /// a LoRA policy's RL reference is.
    public func withoutAdapters<R>(_ body: () throws -> R) rethrows -> R {
        let was = adaptersEnabled
        adaptersEnabled = false
        defer { adaptersEnabled = was }
        return try body()
    }

    /// A model with zeroed parameters; call ``initialize(seed:)`` or load weights.
    /// - Parameters:
    ///   - tensorParallel: this rank's part of a model split over a `model` axis (the
    ///     parameters are then this rank's shards, same names as the full tensors).
    ///   - lora: adapt the projections with LoRA: the table's weights are frozen (the reward head's
    ///     `score` stays trainable) and the adapters are zero until ``initializeAdapters(seed:)``.
    ///   - frozen: how frozen weights are stored; `.bfloat16` needs `lora` (nothing else is frozen).
    public init(config: GemmaConfig, head: Head = .causalLM, tensorParallel: TensorParallel? = nil, lora: LoRA? = nil,
                frozen: ParameterStore.FrozenDType = .float32) {
        precondition(frozen == .float32 || lora != nil, "GemmaModel: a bf16 frozen base needs LoRA")
        self.config = config
        self.head = head
        self.tensorParallel = tensorParallel
        self.lora = lora
        parameterTable = GemmaParameter.all(config, head: head)
        parameters = GemmaModel.registerParameters(parameterTable, tensorParallel: tensorParallel, lora: lora, frozen: frozen)
        rotary = RotaryTable(headDim: config.headDim, maxPositions: config.maxPositionEmbeddings, theta: config.ropeTheta)
        let p = parameters
        func t(_ role: GemmaParameter.Role, _ layer: Int? = nil) -> Weight { p.weight(p.index(of: GemmaParameter.name(role, layer: layer))!) }
        func adapters(_ layer: Int) -> [GemmaParameter.Role: Adapter] {
            var out: [GemmaParameter.Role: Adapter] = [:]
            for row in GemmaParameter.table where row.loraTarget.map({ lora?.targets.contains($0) ?? false }) ?? false {
                let names = LoRA.adapterNames(of: GemmaParameter.name(row.role, layer: layer))
                let a = p.entry(names.a)!.sharding
                out[row.role] = Adapter(a: p[names.a]!, b: p[names.b]!, role: row.role, fullInput: a.fullShape[1],
                                        inputOffset: a.split == .columns ? a.part * a.localShape[1] : 0)
            }
            return out
        }
        embed = t(.embedding)
        finalNorm = t(.finalNorm)
        layers = (0..<config.numHiddenLayers).map { i in
            Layer(inputNorm: t(.inputNorm, i), q: t(.q, i), k: t(.k, i), v: t(.v, i), o: t(.o, i),
                  postNorm: t(.postNorm, i), gate: t(.gate, i), up: t(.up, i), down: t(.down, i), adapters: adapters(i))
        }
        score = head == .reward ? t(.score).tensor : nil  // trainable: always Float32
    }

    /// How the frozen weights are stored (`model.frozen_dtype`).
    public var frozenDType: ParameterStore.FrozenDType { parameters.frozenDType }

    /// The store of `table`'s parameters, in its order (HF's): this rank's shards under tensor
    /// parallelism, with the table's weight decay. With `lora` they are frozen but for `score`, and
    /// each target weight's `A: [r, in]` and `B: [out, r]` follow (trainable, decayed like the weight).
    static func registerParameters(_ table: [GemmaParameter], tensorParallel tp: TensorParallel?, lora: LoRA?,
                                   frozen: ParameterStore.FrozenDType) -> ParameterStore {
        let store = ParameterStore(frozen: frozen)
        for p in table {
            let sharding = tp?.sharding(of: p) ?? .replicated(p.shape)
            store.add(p.name, shape: sharding.localShape, decay: p.decays, sharding: sharding,
                      trainable: lora == nil || p.role == .score)
        }
        if let lora {
            for p in table where lora.adapts(p) {
                let names = LoRA.adapterNames(of: p.name)
                let (a, b) = lora.shardings(of: tp?.sharding(of: p) ?? .replicated(p.shape))
                store.add(names.a, shape: a.localShape, decay: p.decays, sharding: a)
                store.add(names.b, shape: b.localShape, decay: p.decays, sharding: b)
            }
        }
        store.finalize()
        return store
    }

    /// Hugging Face's initialisation, as the table gives it per parameter (normal(0, initializer_range),
    /// the embedding's padding row zeroed, norm offsets 0). The random stream runs over the full tensors
    /// in store order (zero tensors draw nothing), so a model split over any `model` axis starts from
    /// the same weights.
    public func initialize(seed: UInt64) {
        var rng = RandomGenerator(seed: seed)
        let std = config.initializerRange
        for (i, p) in parameterTable.enumerated() {
            var full = [Float](repeating: 0, count: p.count)
            if p.initialization != .zeros {
                for j in full.indices { full[j] = rng.nextNormal() * std }
            }
            let pad = config.padTokenId
            if p.initialization == .normalPaddingRowZero && pad >= 0 && pad < p.shape[0] {
                full.withUnsafeMutableBufferPointer { ($0.baseAddress! + pad * p.shape[1]).update(repeating: 0, count: p.shape[1]) }
            }
            full.withUnsafeBufferPointer { f in parameters.setValues(i) { parameters.entries[i].sharding.extract(from: f.baseAddress!, into: $0) } }
        }
    }

    /// Copies every parameter that `other` (split over the same `model` axis, or whole like this model)
    /// has under the same name and full shape: starting a reward model from a causal LM, or fine-tuning
    /// from pretrained weights. Only the table's parameters are copied, never LoRA adapters. Returns
    /// the names not found in `other`.
    @discardableResult
    public func copyParameters(from other: GemmaModel) -> [String] {
        var missing: [String] = []
        for (i, e) in parameters.entries.prefix(parameterTable.count).enumerated() {
            guard let j = other.parameters.index(of: e.name), other.parameters.entries[j].sharding.fullShape == e.sharding.fullShape else {
                missing.append(e.name)
                continue
            }
            precondition(other.parameters.entries[j].sharding == e.sharding, "copyParameters: \(e.name) is split differently in the source")
            other.parameters.withValues(j) { source in parameters.setValues(i) { $0.update(from: source, count: e.count) } }
        }
        return missing
    }

    /// Fills parameter `i` from its full tensor, which `read` writes into the buffer it is given (of the
    /// full tensor's size): straight into the parameter when it is whole, else through a temporary
    /// buffer of which this rank keeps its shard, so a split model never holds more than one full tensor
    /// beyond its shards (the Hugging Face loader; GemmaTrain files are read block by block).
    public func loadParameter(_ i: Int, _ read: (UnsafeMutableBufferPointer<Float>) throws -> Void) rethrows {
        let e = parameters.entries[i]
        try parameters.setValues(i) { target in
            if e.sharding.split == .replicated {
                return try read(UnsafeMutableBufferPointer(start: target, count: e.count))
            }
            var full = [Float](repeating: 0, count: e.sharding.fullShape.reduce(1, *))
            try full.withUnsafeMutableBufferPointer { try read($0) }
            full.withUnsafeBufferPointer { e.sharding.extract(from: $0.baseAddress!, into: target) }
        }
    }

    /// The final-normed hidden states `[B*T, D]` of `ids` (`B` rows of `T` tokens, row-major).
    /// - Parameters:
    ///   - positions: per-token RoPE positions `[B*T]`; default `0..<T` in every row.
    ///   - documents: per-token document ids `[B*T]` for packed rows (no attention across documents).
    public func hiddenStates(ids: [Int32], batch: Int, positions: [Int32]? = nil, documents: [Int32]? = nil) -> Tensor {
        precondition(batch > 0 && ids.count % batch == 0, "hiddenStates: \(ids.count) ids for batch \(batch)")
        let time = ids.count / batch
        return forward(ids: ids, batch: batch, positions: positions ?? (0..<ids.count).map { Int32($0 % time) }) { _, q, k, v in
            causalAttention(q: q, k: k, v: v, documents: documents)
        }
    }

    /// The decoder stack with the attention supplied by the caller: `attention(layer, q, k, v)` gets q
    /// `[B, T, H, hd]` and k, v `[B, T, KV, hd]` after RoPE and returns `[B, T, H, hd]` (the training path
    /// uses fused causal attention; generation attends over a ``KVCache``).
    ///
    /// Under tensor parallelism `H` and `KV` are this rank's heads: the replicated residual stream
    /// enters each block through ``enterShards(_:_:)`` and the block's partial output is summed with
    /// ``sumOverShards(_:_:)`` (Megatron's f and g). With ``recomputesBlocks`` each block keeps only its
    /// input for backward (``recomputed(_:parameters:_:)``).
    func forward(ids: [Int32], batch: Int, positions: [Int32],
                 attention: @escaping (Int, Tensor, Tensor, Tensor) -> Tensor) -> Tensor {
        let c = config
        let e = sumOverShards(embedding(embed, ids, shard: tensorParallel?.vocab), tensorParallel?.group)
        var h = e * Float(Double(c.hiddenSize).squareRoot())  // [N, D]
        // Drawn here, outside the blocks, so that a recomputed block replays its masks.
        let pass = loraDropout?.nextPass()
        for (i, layer) in layers.enumerated() {
            let block = { (h: Tensor) in
                self.block(h, layer, batch: batch, positions: positions, dropout: pass.map { ($0, i) }) { q, k, v in attention(i, q, k, v) }
            }
            h = recomputesBlocks ? recomputed(h, parameters: layer.tensors, block) : block(h)
        }
        return rmsNorm(h, weight: finalNorm.tensor, eps: c.rmsNormEps)
    }

    /// One decoder layer on the residual stream `h: [N, D]` (`N = batch·T`): attention then the MLP, each
    /// added to the stream; `attention(q, k, v)` as in ``forward(ids:batch:positions:attention:)``.
    func block(_ h: Tensor, _ layer: Layer, batch: Int, positions: [Int32], dropout: (pass: UInt64, layer: Int)? = nil,
               attention: (Tensor, Tensor, Tensor) -> Tensor) -> Tensor {
        let c = config
        let (n, time) = (h.shape[0], h.shape[0] / batch)
        let group = tensorParallel?.group
        let (heads, kvHeads) = (localHeads, tensorParallel?.kvHeads ?? c.numKeyValueHeads)
        let x = enterShards(rmsNorm(h, weight: layer.inputNorm.tensor, eps: c.rmsNormEps), group)
        let ad = layer.adapters
        let q = rope(reshape(project(x, layer.q, ad[.q], dropout: dropout), [batch, time, heads, c.headDim]),
                     positions: positions, table: rotary)
        let k = rope(reshape(project(x, kvWeight(layer.k), ad[.k].map(kvAdapter), dropout: dropout), [batch, time, kvHeads, c.headDim]),
                     positions: positions, table: rotary)
        let v = reshape(project(x, kvWeight(layer.v), ad[.v].map(kvAdapter), dropout: dropout), [batch, time, kvHeads, c.headDim])
        let a = attention(q, k, v)  // [B, T, H, hd]
        let mid = h + sumOverShards(project(reshape(a, [n, heads * c.headDim]), layer.o, ad[.o], dropout: dropout), group)
        let x2 = enterShards(rmsNorm(mid, weight: layer.postNorm.tensor, eps: c.rmsNormEps), group)
        return mid + sumOverShards(mlp(x2, layer, dropout: dropout), group)
    }

    /// Query heads this rank computes (all of them without tensor parallelism).
    var localHeads: Int { tensorParallel?.heads ?? config.numAttentionHeads }

    /// The k or v projection rows this rank uses: all of its shard, or its kv head's `[hd, D]` rows when
    /// the ranks share the kv heads.
    func kvWeight(_ w: Weight) -> Weight {
        guard let tp = tensorParallel, tp.sharesKV else { return w }
        let hd = config.headDim
        return w.rows((tp.kvHead * hd)..<((tp.kvHead + 1) * hd))
    }

    /// The adapter of a k or v projection as this rank uses it: B's rows of its kv head when the ranks
    /// share the kv heads (``kvWeight(_:)``).
    func kvAdapter(_ adapter: Adapter) -> Adapter {
        Adapter(a: adapter.a, b: kvWeight(.float32(adapter.b)).tensor, role: adapter.role, fullInput: adapter.fullInput,
                inputOffset: adapter.inputOffset)
    }

    /// GeGLU feed-forward: `(gelu_tanh(x·Wgateᵀ) ⊙ x·Wupᵀ)·Wdownᵀ`, `x: [N, D]` → `[N, D]` (this rank's
    /// partial sum over its `F/M` units under tensor parallelism).
    func mlp(_ x: Tensor, _ layer: Layer, dropout: (pass: UInt64, layer: Int)? = nil) -> Tensor {
        let ad = layer.adapters
        let act = geglu(gate: project(x, layer.gate, ad[.gate], dropout: dropout), up: project(x, layer.up, ad[.up], dropout: dropout))
        return project(act, layer.down, ad[.down], dropout: dropout)
    }

    /// Next-token logits `[B*T, V]` (the output projection is the embedding, transposed).
    public func logits(ids: [Int32], batch: Int, positions: [Int32]? = nil, documents: [Int32]? = nil) -> Tensor {
        precondition(tensorParallel == nil, "logits: not available on a model split over ranks (use loss)")
        return linear(hiddenStates(ids: ids, batch: batch, positions: positions, documents: documents), embed)
    }

    /// Mean cross-entropy of `targets` (`[B*T]`, -100 = ignored) under the model, fused with the output
    /// projection; `normalizer` as in ``crossEntropy(hidden:weight:targets:normalizer:chunkSize:)``.
    public func loss(ids: [Int32], targets: [Int32], batch: Int, positions: [Int32]? = nil,
                     documents: [Int32]? = nil, normalizer: Int? = nil) -> (loss: Tensor, count: Int) {
        let h = hiddenStates(ids: ids, batch: batch, positions: positions, documents: documents)
        return crossEntropy(hidden: enterShards(h, tensorParallel?.group), weight: embed, targets: targets,
                            normalizer: normalizer, shard: tensorParallel?.vocab)
    }
}
