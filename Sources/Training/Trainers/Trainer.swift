import Autograd
import Datasets
import Foundation
import Gemma
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

/// A training run: model, data, optimizer, schedule and logging from a ``RunConfig``, one process.
///
/// Each step takes the next global batch of the sample order, accumulates gradients over its micro-batches
/// (normalised by the whole batch), clips the global norm, applies AdamW at the scheduled rate, logs
/// `metrics.jsonl`, TensorBoard and progress, evaluates and checkpoints on schedule.
public final class Trainer {
    public let config: RunConfig
    public let task: Task
    public let model: GemmaModel
    public let tokenizer: SentencePieceTokenizer
    let optimizer: AdamW
    let schedule: LearningRateSchedule
    let runDirectory: URL
    let log: (String) -> Void

    /// Rows of the training and evaluation data (language-model tasks) or pairs (reward).
    var lmTrain: BatchSchedule<PackedRow>?, lmEval: [PackedRow] = []
    var pairTrain: BatchSchedule<PreferencePair>?, pairEval: [PreferencePair] = []

    /// Sets up the run: creates the run directory, writes the resolved `config.yaml`, loads the tokenizer,
    /// the model (new from a preset or config, or initialised from `model.init`) and the data.
    /// - Parameter log: where setup and summary lines go (stderr by default).
    public init(config: RunConfig, task: Task, log: @escaping (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }) throws {
        try config.validate()
        _ = try config.accumulationSteps(dataParallel: 1)
        self.config = config
        self.task = task
        self.log = log
        runDirectory = URL(fileURLWithPath: config.run.dir)
        try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true)
        try Data(config.yaml().utf8).write(to: runDirectory.appendingPathComponent("config.yaml"), options: .atomic)

        let initial = try config.model.initFrom.map { try ModelFile.loadAny($0) }
        tokenizer = try Trainer.loadTokenizer(config, initial)
        model = try Trainer.buildModel(config, task: task, initial: initial, log: log)
        guard tokenizer.vocabularySize <= model.config.vocabSize else {
            throw TrainingError("tokenizer.path has \(tokenizer.vocabularySize) pieces, more than the model's vocab_size \(model.config.vocabSize)")
        }
        let t = config.train
        optimizer = AdamW(parameters: model.parameters, learningRate: Float(t.lr), beta1: Float(t.beta1), beta2: Float(t.beta2),
                          epsilon: Float(t.eps), weightDecay: Float(t.weightDecay),
                          decays: t.decayNormsAndEmbeddings ? { _ in true } : nil)
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
    /// `model.init` when given, else Hugging Face's initialisation seeded by `run.seed`.
    static func buildModel(_ config: RunConfig, task: Task, initial: ModelFile.Contents?,
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
        let model = GemmaModel(config: architecture, head: head)
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
                              microBatchSize: config.train.microBatchSize), eval)
    }
}

/// A run that cannot start or continue, with a message naming the setting or file.
public struct TrainingError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
