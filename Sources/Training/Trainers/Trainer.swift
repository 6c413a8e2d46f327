import Autograd
import Checkpoint
import Datasets
import Foundation
import Gemma
import Mesh
import NN

/// What a run trains: the command, the model's head and the ``TrainingObjective``.
public enum Task: String, Sendable {
    /// Next-token prediction on packed text.
    case pretrain
    /// Supervised fine-tuning on dialogues, loss on model turns only.
    case sft
    /// Reward model on preference pairs (Bradley-Terry loss).
    case reward
    /// Direct preference optimisation of a policy on preference pairs against a frozen reference.
    case dpo
    /// Online RL of a policy against a reward model (RLOO or GRPO).
    case rl

    /// The head of the model this task trains.
    var head: GemmaModel.Head { self == .reward ? .reward : .causalLM }
}

/// A training run: model, data, optimizer, schedule and logging from a ``RunConfig``, on one process or
/// on every rank of a ``DeviceMesh`` (each rank builds its own Trainer; Docs/Distributed.md).
///
/// Each step takes the next global batch of the sample order (each data rank its slice), accumulates
/// gradients over its micro-batches (normalised by the whole global batch), reduces them over the mesh,
/// clips the global norm, applies AdamW at the scheduled rate (ZeRO-1 shards), logs `metrics.jsonl`,
/// TensorBoard and progress (rank 0), evaluates and checkpoints on schedule.
public final class Trainer {
    public let config: RunConfig
    public let task: Task
    /// This rank's model (its shards under tensor parallelism).
    public let model: GemmaModel
    public let tokenizer: SentencePieceTokenizer
    /// The mesh this rank belongs to; nil for a single process without MPI.
    public let mesh: DeviceMesh?
    let optimizer: MeshOptimizer
    let schedule: LearningRateSchedule
    let runDirectory: URL
    /// Setup and summary lines; silent on every rank but rank 0.
    let log: (String) -> Void
    /// Rank 0's exclusive lock on the run directory, held while this trainer lives.
    let lock: RunDirectoryLock?
    /// The checkpoint files of `run.dir` that belong to this run (those it wrote, and on resume from
    /// `run.dir` those up to the resumed step): the only ones pruning may remove. Rank 0's.
    var ownedCheckpoints: Set<String> = []
    /// How `checkpoint.resume` candidates are checked before resuming (rank 0); in this process unless
    /// set (`gemma-train` checks them in a child process: ``CheckpointVerifier/childProcess(executable:arguments:)``).
    public var checkpointVerifier: CheckpointVerifier = .inProcess

    /// Whether this rank writes files and logs.
    var isLeader: Bool { mesh?.isLeader ?? true }

    /// What the run optimises: its data, step, metrics, evaluation and checkpoint tensors.
    let objective: any TrainingObjective
    /// A LoRA run's adaptation and base identity, written into its checkpoints; nil without LoRA.
    let adapterHeader: ModelFile.AdapterHeader?

    /// Sets up the run: creates and locks the run directory (rank 0; a fresh run refuses a directory that
    /// holds checkpoints), loads the tokenizer, the model (new from a preset or config, or initialised
    /// from `model.init`; this rank's shards on a mesh) and the data. Nothing in the run directory is
    /// written until ``run(onStep:)`` has checked everything (`config.yaml` included).
    /// - Parameters:
    ///   - mesh: the mesh this rank is part of; its sizes must be the config's `mesh`. Nil: one process.
    ///   - log: where setup and summary lines go (stderr by default); only rank 0 logs.
    public init(config: RunConfig, task: Task, mesh: DeviceMesh? = nil,
                log: @escaping (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }) throws {
        try config.validate()
        let (dataParallel, modelParallel) = (mesh?.dataParallel ?? 1, mesh?.modelParallel ?? 1)
        guard dataParallel == config.mesh.data && modelParallel == config.mesh.model else {
            throw TrainingError("mesh data=\(config.mesh.data),model=\(config.mesh.model) in the config, but this job runs data=\(dataParallel),model=\(modelParallel)")
        }
        _ = try config.accumulationSteps(dataParallel: dataParallel)
        self.config = config
        self.task = task
        self.mesh = mesh
        let leader = mesh?.isLeader ?? true
        self.log = leader ? log : { _ in }
        runDirectory = URL(fileURLWithPath: config.run.dir)
        lock = leader ? try Self.lockRunDirectory(config) : nil

        // This rank's split of a model over the mesh's `model` axis, from the model's config.
        let split: TensorParallel.Choice = mesh?.modelSplit ?? { _ in nil }
        // The weights are read into the built model, shard by shard (Trainer.buildModel).
        let initial = try config.model.initFrom.map { try ModelFile.describe($0) }
        tokenizer = try Trainer.loadTokenizer(config, initial)
        model = try Trainer.buildModel(config, task: task, initial: initial, split: split, log: self.log)
        model.recomputesBlocks = config.train.recompute == .block
        if config.model.lora.rank != nil, config.model.lora.dropout > 0 {
            model.loraDropout = LoRADropout(probability: Float(config.model.lora.dropout), seed: UInt64(config.run.seed))
        }
        let built = model
        adapterHeader = try built.lora.map { lora in
            let base = config.model.initFrom!
            return ModelFile.AdapterHeader(lora: lora, base: base, baseChecksum: try ModelFile.baseChecksum(of: built, loadedFrom: base),
                                           frozenDType: config.model.frozenDType)
        }
        guard tokenizer.vocabularySize <= model.config.vocabSize else {
            throw TrainingError("tokenizer.path has \(tokenizer.vocabularySize) pieces, more than the model's vocab_size \(model.config.vocabSize)")
        }
        guard config.data.seqLen <= model.config.maxPositionEmbeddings else {
            throw TrainingError("data.seq_len \(config.data.seqLen) exceeds the model's max_position_embeddings "
                                + "\(model.config.maxPositionEmbeddings) (\(config.model.preset.map { "preset \($0)" } ?? config.model.path ?? config.model.initFrom ?? "model config"))")
        }
        let t = config.train
        let parameters = model.parameters
        optimizer = MeshOptimizer(parameters: parameters, mesh: mesh, zero: config.mesh.zero) { range in
            AdamW(parameters: parameters, range: range, learningRate: Float(t.lr), beta1: Float(t.beta1),
                  beta2: Float(t.beta2), epsilon: Float(t.eps), weightDecay: Float(t.weightDecay),
                  decays: t.decayNormsAndEmbeddings ? { _ in true } : nil)
        }
        schedule = LearningRateSchedule(peak: Float(t.lr), warmupSteps: t.warmupSteps, totalSteps: t.steps,
                                        shape: LearningRateSchedule.Shape(rawValue: t.schedule.rawValue)!,
                                        minRatio: Float(t.minLrRatio))
        let context = ObjectiveContext(config: config, model: model, tokenizer: tokenizer, mesh: mesh, log: self.log)
        objective = try Self.makeObjective(task, context, split: split)
    }

    /// The objective of `task`, which loads its data (and the models it needs besides the policy).
    static func makeObjective(_ task: Task, _ context: ObjectiveContext, split: @escaping TensorParallel.Choice) throws -> any TrainingObjective {
        switch task {
        case .pretrain: return try LanguageModelObjective.pretraining(context)
        case .sft: return try LanguageModelObjective.supervisedFineTuning(context)
        case .reward: return try RewardObjective(context)
        case .dpo:
            let policy = context.model
            let loadReference = context.config.dpo.reference.map { path in
                {
                    let loaded = try ModelFile.loadAny(path, tensorParallel: split)
                    try PreferenceObjective.checkReference(loaded.model, tokenizer: loaded.tokenizer, named: "dpo.reference \(path)",
                                                           policy: policy.config, policyTokenizer: [UInt8](context.tokenizer.modelData))
                    return loaded.model
                }
            }
            return try PreferenceObjective(context, loadReference: loadReference)
        case .rl:
            guard let start = context.config.model.initFrom else {
                throw TrainingError("rl needs model.init (the SFT policy): the reference is a frozen copy of the starting weights")
            }
            // A LoRA policy whose adapters start at zero is its own reference with the adapters off: no
            // second copy of the model.
            let shared = context.model.lora != nil && context.config.model.lora.initFrom == nil
            let reference = shared ? context.model : try ModelFile.loadAny(start, tensorParallel: split).model
            if shared { context.log("reference: the LoRA policy's frozen base (the adapters switched off), no second copy") }
            guard let path = context.config.rl.rewardModel else {
                throw TrainingError("rl.reward_model is not set: give the reward checkpoint (of gemma-train reward) that scores the completions")
            }
            let judge = try ModelFile.loadAny(path, tensorParallel: split)
            try PolicyGradientObjective.checkRewardModel(judge.model, tokenizer: judge.tokenizer, named: "rl.reward_model \(path)",
                                                         policyTokenizer: context.tokenizer)
            return try PolicyGradientObjective(context, reference: reference, rewardModel: judge.model)
        }
    }

    /// Creates `run.dir` if needed and locks it (``RunDirectoryLock``). A fresh run (no
    /// `checkpoint.resume`) refuses a directory holding checkpoints: they are another run's, which this
    /// one would prune and whose `latest` it would replace.
    static func lockRunDirectory(_ config: RunConfig) throws -> RunDirectoryLock {
        let dir = config.run.dir
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw TrainingError("run.dir \(dir) exists and is not a directory") }
        } else {
            do { try Directories.create(dir) } catch let error as FileSystemError {
                throw TrainingError("run.dir \(dir): cannot create the directory: \(error.reason)")
            }
        }
        let lock = try RunDirectoryLock(directory: dir)
        if config.checkpoint.resume == nil, let newest = try CheckpointDirectory(path: dir).checkpoints().last {
            throw TrainingError("run.dir \(dir) holds checkpoints of an earlier run (newest \(newest.fileName)); "
                                + "continue it with --resume auto, or start this run in a new run.dir")
        }
        return lock
    }

    /// The tokenizer of `tokenizer.path`, else the one stored with `model.init`.
    static func loadTokenizer(_ config: RunConfig, _ initial: ModelFile.Description?) throws -> SentencePieceTokenizer {
        if let path = config.tokenizer.path {
            return try SentencePieceTokenizer(contentsOf: URL(fileURLWithPath: path))
        }
        if let bytes = initial?.tokenizer {
            return try SentencePieceTokenizer(data: Data(bytes), source: "\(config.model.initFrom!) (stored tokenizer)")
        }
        throw TrainingError("tokenizer.path is not set and no tokenizer comes with model.init")
    }

    /// The model: architecture from `model.preset` / `model.path` (or `model.init`), weights from
    /// `model.init` when given, else Hugging Face's initialisation seeded by `run.seed`; this rank's
    /// shards when the mesh has a `model` axis, read straight into the model's storage (so it never
    /// exists twice). With `model.lora` the weights are frozen (stored as `model.frozen_dtype`) and the
    /// adapters start as PEFT's (seeded by `run.seed`) or from the PEFT adapter `model.lora.init`.
    static func buildModel(_ config: RunConfig, task: Task, initial: ModelFile.Description?, split: TensorParallel.Choice,
                           log: (String) -> Void) throws -> GemmaModel {
        let head = task.head
        var architecture = initial?.config
        if let preset = config.model.preset {
            guard let p = GemmaConfig.presets[preset] else {
                throw TrainingError("model.preset '\(preset)' is not one of \(GemmaConfig.presets.keys.sorted().joined(separator: ", "))")
            }
            architecture = p
        } else if let path = config.model.path {
            architecture = try loadArchitecture(path)
        }
        guard let architecture else { throw TrainingError("set model.preset, model.path or model.init") }
        try architecture.validate()
        let settings = config.model.lora
        let lora = settings.rank.map { LoRA(rank: $0, alpha: settings.alpha, targets: settings.targets.map(\.rawValue)) }
        if let initial {
            guard initial.config == architecture else {
                throw TrainingError("model.init \(config.model.initFrom!) has a different architecture from the run's model config")
            }
            guard !(initial.head == .reward && head == .causalLM) else {
                throw TrainingError("model.init \(config.model.initFrom!) is a reward model; \(task.rawValue) trains a causal language model")
            }
        }
        let model = GemmaModel(config: architecture, head: head, tensorParallel: try split(architecture), lora: lora,
                               frozen: config.model.frozenDType)
        if initial?.head != head {  // the weights model.init does not give (all, or a new reward head) start as HF's
            model.initialize(seed: UInt64(config.run.seed))
        }
        model.initializeAdapters(seed: UInt64(config.run.seed))
        if let adapter = settings.initFrom {
            do { try PEFTAdapter.load(adapter, into: model) } catch let error as ModelFile.FormatError {
                throw TrainingError("model.lora.init: \(error)")
            }
        }
        if let path = config.model.initFrom {
            let fresh = try ModelFile.loadWeights(path, into: model)
            if !fresh.isEmpty { log("initialised from \(config.model.initFrom!); new: \(fresh.joined(separator: ", "))") }
        }
        return model
    }

    /// A model config from a `config.json` file, an HF directory or a GemmaTrain `.h5` file.
    static func loadArchitecture(_ path: String) throws -> GemmaConfig {
        if path.hasSuffix(".json") {
            let data: Foundation.Data
            do { data = try Foundation.Data(contentsOf: URL(fileURLWithPath: path)) } catch {
                throw TrainingError("model.path \(path): cannot read: \(FileSystemError.reason(of: error))")
            }
            do { return try JSONDecoder().decode(GemmaConfig.self, from: data) } catch let error as DecodingError {
                throw TrainingError("model.path \(path): not a Gemma config.json: \(error.summary)")
            }
        }
        return try ModelFile.describe(path).config
    }
}

/// A run that cannot start or continue, with a message naming the setting or file.
public struct TrainingError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
