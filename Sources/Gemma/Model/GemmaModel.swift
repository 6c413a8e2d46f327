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
/// Parameters live in one ``ParameterStore`` under Hugging Face's names.
public final class GemmaModel {
    public let config: GemmaConfig
    public let parameters: ParameterStore
    let rotary: RotaryTable

    /// The views of one decoder layer's weights (HF `[out, in]` layout).
    struct Layer {
        let inputNorm: Tensor      // [D]
        let q: Tensor              // [H*hd, D]
        let k: Tensor              // [KV*hd, D]
        let v: Tensor              // [KV*hd, D]
        let o: Tensor              // [D, H*hd]
        let postNorm: Tensor       // [D]
        let gate: Tensor           // [F, D]
        let up: Tensor             // [F, D]
        let down: Tensor           // [D, F]
    }
    let embed: Tensor              // [V, D]
    let finalNorm: Tensor          // [D]
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

    /// A model with zeroed parameters; call ``initialize(seed:)`` or load weights.
    public init(config: GemmaConfig, head: Head = .causalLM) {
        self.config = config
        self.head = head
        parameters = GemmaModel.registerParameters(config, head: head)
        rotary = RotaryTable(headDim: config.headDim, maxPositions: config.maxPositionEmbeddings, theta: config.ropeTheta)
        let p = parameters
        func t(_ name: String) -> Tensor { p[name]! }
        embed = t("model.embed_tokens.weight")
        finalNorm = t("model.norm.weight")
        layers = (0..<config.numHiddenLayers).map { i in
            let l = "model.layers.\(i)."
            return Layer(
                inputNorm: t(l + "input_layernorm.weight"), q: t(l + "self_attn.q_proj.weight"),
                k: t(l + "self_attn.k_proj.weight"), v: t(l + "self_attn.v_proj.weight"),
                o: t(l + "self_attn.o_proj.weight"), postNorm: t(l + "post_attention_layernorm.weight"),
                gate: t(l + "mlp.gate_proj.weight"), up: t(l + "mlp.up_proj.weight"), down: t(l + "mlp.down_proj.weight"))
        }
        score = p["score.weight"]
    }

    /// The parameters of `config`, by HF name, in HF's order. Norms and the embedding get no weight decay.
    static func registerParameters(_ c: GemmaConfig, head: Head) -> ParameterStore {
        let store = ParameterStore()
        let (d, f, qWidth, kvWidth) = (c.hiddenSize, c.intermediateSize, c.numAttentionHeads * c.headDim, c.numKeyValueHeads * c.headDim)
        store.add("model.embed_tokens.weight", shape: [c.vocabSize, d], decay: false)
        for i in 0..<c.numHiddenLayers {
            let l = "model.layers.\(i)."
            store.add(l + "input_layernorm.weight", shape: [d], decay: false)
            store.add(l + "self_attn.q_proj.weight", shape: [qWidth, d], decay: true)
            store.add(l + "self_attn.k_proj.weight", shape: [kvWidth, d], decay: true)
            store.add(l + "self_attn.v_proj.weight", shape: [kvWidth, d], decay: true)
            store.add(l + "self_attn.o_proj.weight", shape: [d, qWidth], decay: true)
            store.add(l + "post_attention_layernorm.weight", shape: [d], decay: false)
            store.add(l + "mlp.gate_proj.weight", shape: [f, d], decay: true)
            store.add(l + "mlp.up_proj.weight", shape: [f, d], decay: true)
            store.add(l + "mlp.down_proj.weight", shape: [d, f], decay: true)
        }
        store.add("model.norm.weight", shape: [d], decay: false)
        if head == .reward { store.add("score.weight", shape: [1, d], decay: true) }
        store.finalize()
        return store
    }

    /// Hugging Face's initialisation: normal(0, initializer_range) for linear and embedding weights,
    /// norm offsets 0, the padding row of the embedding zeroed.
    public func initialize(seed: UInt64) {
        var rng = RandomGenerator(seed: seed)
        let std = config.initializerRange
        for (i, e) in parameters.entries.enumerated() {
            let data = parameters.tensor(i).data
            if e.name.hasSuffix("norm.weight") {
                data.update(repeating: 0, count: e.count)
            } else {
                for j in 0..<e.count { data[j] = rng.nextNormal() * std }
            }
        }
        let pad = config.padTokenId
        if pad >= 0 && pad < config.vocabSize {
            (embed.data + pad * config.hiddenSize).update(repeating: 0, count: config.hiddenSize)
        }
    }

    /// Copies every parameter that `other` has under the same name and shape (starting a reward model
    /// from a causal LM, or fine-tuning from pretrained weights). Returns the names not found in `other`.
    @discardableResult
    public func copyParameters(from other: GemmaModel) -> [String] {
        var missing: [String] = []
        for (i, e) in parameters.entries.enumerated() {
            if let source = other.parameters[e.name], source.shape == e.shape {
                parameters.tensor(i).data.update(from: source.data, count: e.count)
            } else {
                missing.append(e.name)
            }
        }
        return missing
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
    func forward(ids: [Int32], batch: Int, positions: [Int32],
                 attention: (Int, Tensor, Tensor, Tensor) -> Tensor) -> Tensor {
        let c = config
        let time = ids.count / batch
        var h = embedding(embed, ids) * Float(Double(c.hiddenSize).squareRoot())  // [N, D]
        for (i, layer) in layers.enumerated() {
            let x = rmsNorm(h, weight: layer.inputNorm, eps: c.rmsNormEps)
            let q = rope(reshape(matmul(x, layer.q, transposeB: true), [batch, time, c.numAttentionHeads, c.headDim]),
                         positions: positions, table: rotary)
            let k = rope(reshape(matmul(x, layer.k, transposeB: true), [batch, time, c.numKeyValueHeads, c.headDim]),
                         positions: positions, table: rotary)
            let v = reshape(matmul(x, layer.v, transposeB: true), [batch, time, c.numKeyValueHeads, c.headDim])
            let a = attention(i, q, k, v)  // [B, T, H, hd]
            h = h + matmul(reshape(a, [ids.count, c.numAttentionHeads * c.headDim]), layer.o, transposeB: true)
            h = h + mlp(rmsNorm(h, weight: layer.postNorm, eps: c.rmsNormEps), layer)
        }
        return rmsNorm(h, weight: finalNorm, eps: c.rmsNormEps)
    }

    /// GeGLU feed-forward: `(gelu_tanh(x·Wgateᵀ) ⊙ x·Wupᵀ)·Wdownᵀ`, `x: [N, D]` → `[N, D]`.
    func mlp(_ x: Tensor, _ layer: Layer) -> Tensor {
        let act = geglu(gate: matmul(x, layer.gate, transposeB: true), up: matmul(x, layer.up, transposeB: true))
        return matmul(act, layer.down, transposeB: true)
    }

    /// Next-token logits `[B*T, V]` (the output projection is the embedding, transposed).
    public func logits(ids: [Int32], batch: Int, positions: [Int32]? = nil, documents: [Int32]? = nil) -> Tensor {
        matmul(hiddenStates(ids: ids, batch: batch, positions: positions, documents: documents), embed, transposeB: true)
    }

    /// Mean cross-entropy of `targets` (`[B*T]`, -100 = ignored) under the model, fused with the output
    /// projection; `normalizer` as in ``crossEntropy(hidden:weight:targets:normalizer:chunkSize:)``.
    public func loss(ids: [Int32], targets: [Int32], batch: Int, positions: [Int32]? = nil,
                     documents: [Int32]? = nil, normalizer: Int? = nil) -> (loss: Tensor, count: Int) {
        let h = hiddenStates(ids: ids, batch: batch, positions: positions, documents: documents)
        return crossEntropy(hidden: h, weight: embed, targets: targets, normalizer: normalizer)
    }
}
