import Autograd
import Checkpoint
import Foundation
import Gemma
import NN

/// What a language-model run (pretraining, SFT) needs on each rank, from its config alone, before
/// anything is allocated (`gemma-train plan`): memory by kind and the bytes each mesh axis carries per
/// optimizer step. The model's parameters come from ``GemmaParameter/table`` split as the mesh splits
/// them; activations from what the tape keeps per decoder block (below).
///
/// Legend: `n` tokens per forward pass (micro-batch x seq_len), `L` layers, `D` hidden, `M` ranks on
/// `model`, `h = H/M` query heads and `kv` kv heads of `hd` this rank computes, `f = F/M`, `v = ⌈V/M⌉`.
///
///     kept per block, floats   n·(6D + 3h·hd + 3kv·hd + h + 3f) (+ 2n·D of partial sums when M > 1)
///                               x1, q, rope(q), k, rope(k), v, attention out (+ row log-sum-exp), o·,
///                               mid, x2, gate, up, GeGLU, down·, block output
///     outside the blocks        n·(2D + D) embedding (+ its partial sum), the final norm; cross-entropy
///                               logits n·v when at most crossEntropyLogitCacheBytes, else one chunk
///     recompute block           L·n·D block outputs + one block's inside (replayed in backward)
///     backward's gradients      n·(2D + 3f) at once at most (a block's stream and MLP gradients)
///     LoRA, per adapted weight  n·r in its block (x·Aᵀ, lowRankLinear); with dropout 3n·in at once at
///                               most (mask, x·mask and its gradient, made anew in backward)
///     bf16 frozen base          one projection matrix (at most bfloat16BlockElements of it) widened to
///                               Float32 at a time, and one 2048-row chunk of the embedding (by the output projection)
///
/// With LoRA only the adapters have gradients, optimizer state and data-axis traffic; the frozen base
/// takes 4 bytes per element, or 2 with `model.frozen_dtype: bf16`.
///
/// ``processBytes`` is what the process holds besides (code, libraries, OpenBLAS and MPI buffers, the
/// tokenized data), measured.
public struct TrainingPlan: Sendable {
    /// The memory of one rank, in bytes.
    public struct Memory: Sendable, Equatable {
        public let parameters: Int, gradients: Int, optimizerState: Int, activations: Int
        /// The sum with ``TrainingPlan/processBytes``: the expected peak resident set.
        public var peak: Int { parameters + gradients + optimizerState + activations + TrainingPlan.processBytes }
    }

    /// The resident memory of a training process besides the model's state and activations: 104-116 MiB
    /// measured with the bench and tiny configs on one process, with and without recomputation
    /// (Docs/Performance.md).
    public static let processBytes = 110 << 20

    public let model: GemmaConfig
    /// The mesh's sizes.
    public let dataRanks: Int, modelRanks: Int
    /// Sequences and tokens per forward pass on one data rank.
    public let microBatch: Int, seqLen: Int
    public let recompute: RunConfig.Train.Recompute
    /// Parameters with a gradient on model rank 0: all of them, or LoRA's adapters.
    public let trainedParameters: Int
    /// How a LoRA run stores its frozen base; nil without LoRA (nothing is frozen).
    public let frozenDType: ParameterStore.FrozenDType?
    /// Whether the optimizer state is sharded over `data` (ZeRO-1 with more than one data rank).
    public let zero: Bool
    /// Model rank 0's memory, the largest: later ranks differ only by the vocabulary's padding rows.
    public let memory: Memory
    /// Bytes one rank sends per optimizer step over each axis, counted as a ring algorithm sends them: an
    /// all-reduce of `b` bytes over `k` ranks sends `2(k-1)/k · b`, a reduce-scatter or all-gather half that.
    public let modelAxisBytes: Int, dataAxisBytes: Int

    /// The plan of `config` (its mesh, micro-batch, seq_len, recompute and ZeRO settings) for a causal
    /// language model of architecture `model`. Throws when the model does not split over `mesh.model`
    /// or the batch over `mesh.data`.
    public init(config: RunConfig, model c: GemmaConfig) throws {
        let (d, m) = (config.mesh.data, config.mesh.model)
        try TensorParallel.check(c, ranks: m)
        let accumulation = try config.accumulationSteps(dataParallel: d)
        model = c
        (dataRanks, modelRanks) = (d, m)
        (microBatch, seqLen, recompute) = (config.train.microBatchSize, config.data.seqLen, config.train.recompute)
        zero = config.mesh.zero && d > 1

        let sharesKV = c.numKeyValueHeads < m
        let settings = config.model.lora
        let lora = settings.rank.map { LoRA(rank: $0, alpha: settings.alpha, targets: settings.targets.map(\.rawValue)) }
        let n = microBatch * seqLen
        // Rank 0's elements of the table, of its adapters, of what is summed over `model`, the largest
        // weight, and the floats the adapters keep per block.
        var (base, adapters, summed, largest, adapterActivations, widestInput) = (0, 0, 0, 0, 0, 0)
        for parameter in GemmaParameter.all(c) {
            let sharding = m == 1 ? Sharding.replicated(parameter.shape) : parameter.sharding(part: 0, parts: m, sharesKV: sharesKV)
            let local = sharding.localShape.reduce(1, *)
            base += local
            if parameter.role != .embedding { largest = max(largest, local) }  // the embedding is widened by rows and chunks
            if lora == nil, sharding.sumsGradient { summed += local }
            guard let lora, lora.adapts(parameter) else { continue }
            let (a, b) = lora.shardings(of: sharding)
            for s in [a, b] {
                adapters += s.localShape.reduce(1, *)
                if s.sumsGradient { summed += s.localShape.reduce(1, *) }
            }
            adapterActivations += n * lora.rank
            widestInput = max(widestInput, sharding.localShape[1])
        }
        adapterActivations /= c.numHiddenLayers  // per block
        let dropoutScratch = settings.dropout > 0 ? 3 * n * widestInput : 0
        let p = lora == nil ? base : adapters
        trainedParameters = p
        frozenDType = lora == nil ? nil : config.model.frozenDType
        let optimizerFloats = zero ? 2 * ((p + d - 1) / d) : 2 * p
        let baseBytes = lora == nil ? 0 : (config.model.frozenDType == .bfloat16 ? 2 : 4) * base
        let widened = lora != nil && config.model.frozenDType == .bfloat16 ? min(largest, bfloat16BlockElements) + 2048 * c.hiddenSize : 0

        let (hidden, hd) = (c.hiddenSize, c.headDim)
        let (heads, kvHeads, f) = (c.numAttentionHeads / m, sharesKV ? 1 : c.numKeyValueHeads / m, c.intermediateSize / m)
        let vocabRows = (c.vocabSize + m - 1) / m
        let partialSums = m > 1 ? 2 * hidden : 0
        let block = n * (6 * hidden + partialSums + 3 * heads * hd + 3 * kvHeads * hd + heads + 3 * f)
            + (sharesKV ? 2 * hd * hidden : 0) + adapterActivations
        let logits = n * vocabRows * 4 <= crossEntropyLogitCacheBytes ? n * vocabRows : n * min(2048, vocabRows)
        let outside = n * (hidden * (m > 1 ? 2 : 1) + 2 * hidden) + logits
        let layers = c.numHiddenLayers
        let kept = recompute == .block ? layers * n * hidden + block : layers * block
        let gradients = n * (2 * hidden + 3 * f)
        memory = Memory(parameters: baseBytes + 4 * p, gradients: 4 * p, optimizerState: 4 * optimizerFloats,
                        activations: 4 * (kept + outside + gradients + widened + dropoutScratch))

        // Per micro-batch on `model`: the embedding's sum, two sums per block forward (again when
        // recomputed) and backward, the cross-entropy's max and [2, n] sums and its input gradient.
        let blockSums = (recompute == .block ? 6 : 4) * layers * n * hidden
        let perMicroBatch = n * hidden + blockSums + 3 * n + n * hidden
        let ring = { (bytes: Int, ranks: Int) in ranks > 1 ? 2 * (ranks - 1) * bytes / ranks : 0 }
        modelAxisBytes = ring(4 * (accumulation * perMicroBatch + summed), m)
        dataAxisBytes = ring(4 * p, d)  // ZeRO's reduce-scatter + all-gather send what one all-reduce sends
    }

    /// The architecture a run config names: its preset, or the config of `model.path` / `model.init`
    /// (a `config.json`, a Hugging Face directory or a GemmaTrain `.h5` file), reading no weights.
    public static func architecture(of config: RunConfig) throws -> GemmaConfig {
        if let preset = config.model.preset {
            guard let p = GemmaConfig.presets[preset] else { throw TrainingError("model.preset '\(preset)' is not a preset") }
            return p
        }
        guard let path = config.model.path ?? config.model.initFrom else {
            throw TrainingError("set model.preset, model.path or model.init")
        }
        let key = config.model.path != nil ? "model.path" : "model.init"
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw TrainingError("\(key) \(path): no such file or directory")
        }
        let json: String
        do {
            if isDirectory.boolValue {
                json = try String(contentsOfFile: path + "/" + HuggingFaceDirectory.configFileName, encoding: .utf8)
            } else if path.hasSuffix(".json") {
                json = try String(contentsOfFile: path, encoding: .utf8)
            } else {
                json = try H5File.open(path).stringAttribute("config")
            }
        } catch let error as H5Error {
            throw TrainingError("\(key) \(path): \(error)")
        } catch {
            throw TrainingError("\(key) \(path): cannot read: \(FileSystemError.reason(of: error))")
        }
        do {
            let architecture = try JSONDecoder().decode(GemmaConfig.self, from: Foundation.Data(json.utf8))
            try architecture.validate()
            return architecture
        } catch let error as DecodingError {
            throw TrainingError("\(key) \(path): not a Gemma config: \(error.summary)")
        }
    }
}
