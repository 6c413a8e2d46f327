import Autograd
import Datasets
import Foundation
import Gemma
import Mesh
import NN

/// What a run trains.
public enum Task: String, Sendable {
    /// Next-token prediction on packed text.
    case pretrain
    /// Supervised fine-tuning on dialogues, loss on model turns only.
    case sft
    /// Reward model on preference pairs (Bradley-Terry loss).
    case reward
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
    /// How `checkpoint.resume` candidates are checked before resuming (rank 0); in this process unless
    /// set (`gemma-train` checks them in a child process: ``CheckpointVerifier/childProcess(executable:arguments:)``).
    public var checkpointVerifier: CheckpointVerifier = .inProcess

    /// Whether this rank writes files and logs.
    var isLeader: Bool { mesh?.isLeader ?? true }

    /// Rows of the training and evaluation data (language-model tasks) or pairs (reward).
    var lmTrain: BatchSchedule<PackedRow>?, lmEval: [PackedRow] = []
    var pairTrain: BatchSchedule<PreferencePair>?, pairEval: [PreferencePair] = []

    /// Sets up the run: creates the run directory, writes the resolved `config.yaml` (rank 0), loads the
    /// tokenizer, the model (new from a preset or config, or initialised from `model.init`; this rank's
    /// shards on a mesh) and the data.
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
        if leader {
            try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true)
            try Data(config.yaml().utf8).write(to: runDirectory.appendingPathComponent("config.yaml"), options: .atomic)
        }

        // This rank's split of a model over the mesh's `model` axis, from the model's config.
        let axis = mesh.flatMap { $0.modelParallel > 1 ? ModelAxisGroup($0.modelAxis, world: $0.world) : nil }
        let split: TensorParallel.Choice = { c in try axis.map { try TensorParallel(config: c, group: $0) } }
        // Read shard by shard: a rank never holds more of `model.init` than its part and one full tensor.
        let initial = try config.model.initFrom.map { try ModelFile.loadAny($0, tensorParallel: split) }
        tokenizer = try Trainer.loadTokenizer(config, initial)
        model = try Trainer.buildModel(config, task: task, initial: initial, split: split, log: self.log)
        guard tokenizer.vocabularySize <= model.config.vocabSize else {
            throw TrainingError("tokenizer.path has \(tokenizer.vocabularySize) pieces, more than the model's vocab_size \(model.config.vocabSize)")
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
        try loadData()
    }

    /// The tokenizer of `tokenizer.path`, else the one stored with `model.init`.
    static func loadTokenizer(_ config: RunConfig, _ initial: ModelFile.Contents?) throws -> SentencePieceTokenizer {
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
    /// shards when the mesh has a `model` axis.
    static func buildModel(_ config: RunConfig, task: Task, initial: ModelFile.Contents?, split: TensorParallel.Choice,
                           log: (String) -> Void) throws -> GemmaModel {
        let head: GemmaModel.Head = task == .reward ? .reward : .causalLM
        var architecture = initial?.model.config
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
        let model = GemmaModel(config: architecture, head: head, tensorParallel: try split(architecture))
        model.initialize(seed: UInt64(config.run.seed))
        if let initial {
            guard initial.model.config == architecture else {
                throw TrainingError("model.init \(config.model.initFrom!) has a different architecture from the run's model config")
            }
            let fresh = model.copyParameters(from: initial.model)
            if !fresh.isEmpty { log("initialised from \(config.model.initFrom!); new: \(fresh.joined(separator: ", "))") }
        }
        return model
    }

    /// A model config from a `config.json` file, an HF directory or a GemmaTrain `.h5` file.
    static func loadArchitecture(_ path: String) throws -> GemmaConfig {
        if path.hasSuffix(".json") {
            let data = try Foundation.Data(contentsOf: URL(fileURLWithPath: path))
            do { return try JSONDecoder().decode(GemmaConfig.self, from: data) } catch {
                throw TrainingError("model.path \(path): not a Gemma config.json (\(error))")
            }
        }
        return try ModelFile.loadAny(path).model.config
    }

    func loadData() throws {
        let d = config.data
        let overlong = Packer.Overlong(rawValue: d.overlong.rawValue)!
        switch task {
        case .pretrain, .sft:
            let template = task == .sft ? try ChatTemplate(tokenizer: tokenizer) : nil
            (lmTrain, lmEval) = try loadSplit { path in
                if let template {
                    return try TrainingData.chat(path, template: template, seqLen: d.seqLen, packing: d.packing,
                                                 overlong: overlong, skipBadRows: d.skipBadRows)
                }
                return try TrainingData.text(path, tokenizer: tokenizer, seqLen: d.seqLen, packing: d.packing,
                                             overlong: overlong, skipBadRows: d.skipBadRows)
            }
        case .reward:
            let template = try ChatTemplate(tokenizer: tokenizer)
            (pairTrain, pairEval) = try loadSplit { path in
                let loaded = try TrainingData.preferences(path, template: template, seqLen: d.seqLen, overlong: overlong,
                                                          skipBadRows: d.skipBadRows)
                return (loaded.pairs, loaded.report)
            }
        }
    }

    /// Loads `data.train` (which must yield rows) and `data.eval` with `load`, logging their reports.
    func loadSplit<Row>(_ load: (String) throws -> (rows: [Row], report: DataReport)) throws
        -> (train: BatchSchedule<Row>, eval: [Row]) {
        let d = config.data
        let train = try load(d.train)
        log("train data \(train.report)")
        guard !train.rows.isEmpty else { throw TrainingError("\(d.train): no training rows") }
        var eval: [Row] = []
        if let path = d.eval {
            let e = try load(path)
            log("eval data \(e.report)")
            eval = e.rows
        }
        return (BatchSchedule(rows: train.rows, seed: UInt64(config.run.seed), batchSize: config.train.batchSize,
                              microBatchSize: config.train.microBatchSize, dataRank: mesh?.dataRank ?? 0,
                              dataParallel: mesh?.dataParallel ?? 1), eval)
    }
}

/// A run that cannot start or continue, with a message naming the setting or file.
public struct TrainingError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
