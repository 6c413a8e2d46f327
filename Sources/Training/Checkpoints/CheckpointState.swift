import Foundation
import Gemma
import NN

/// Everything a checkpoint holds besides tensors: what resuming needs to continue a run exactly (model
/// kind and config, counters, optimizer, data cursor, schedule position, random state) and what a
/// reader wants to know about where it came from (run config, mesh, time, code revision).
/// ``CheckpointWriter/commit(state:tokenizer:)`` stores it; ``CheckpointReader/state`` reads it back.
public struct CheckpointState: Equatable, Sendable {
    /// AdamW's counters and hyper-parameters, exactly as the optimizer holds them.
    public struct Optimizer: Equatable, Sendable {
        /// Updates applied (t in the bias corrections); less than the run's step if steps were skipped.
        public var step: Int
        /// The learning rate of the last update (the schedule sets it before each one).
        public var learningRate: Float
        public var beta1: Float
        public var beta2: Float
        public var epsilon: Float
        public var weightDecay: Float

        public init(step: Int, learningRate: Float, beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float) {
            self.step = step
            self.learningRate = learningRate
            self.beta1 = beta1
            self.beta2 = beta2
            self.epsilon = epsilon
            self.weightDecay = weightDecay
        }
    }

    /// Where the data order continues. The order is a pure function of (seed, global index)
    /// (`SampleOrder`), so this is all a resumed run needs, whatever its data-parallel size.
    public struct DataCursor: Equatable, Sendable {
        /// The sample order's seed.
        public var seed: UInt64
        /// The epoch of ``nextIndex`` (`nextIndex / rows`).
        public var epoch: Int
        /// The global index of the next sample to train on.
        public var nextIndex: Int

        public init(seed: UInt64, epoch: Int, nextIndex: Int) {
            self.seed = seed
            self.epoch = epoch
            self.nextIndex = nextIndex
        }
    }

    /// The run's randomness: its seed, and the state of a generator that is still drawing, if any.
    public struct Randomness: Equatable, Sendable {
        /// The run's seed (`run.seed`).
        public var seed: UInt64
        /// A live generator (e.g. for dropout or sampling), restored word for word; nil when the run
        /// draws nothing after initialisation.
        public var generator: RandomGenerator?

        public init(seed: UInt64, generator: RandomGenerator? = nil) {
            self.seed = seed
            self.generator = generator
        }
    }

    /// Language model or reward model.
    public var kind: GemmaModel.Head
    /// The model config as Hugging Face `config.json` text (``GemmaConfig/jsonText(head:)``).
    public var modelConfig: String
    /// Optimizer steps completed; a resumed run continues with step `step + 1`.
    public var step: Int
    /// Input tokens trained on so far.
    public var tokensSeen: Int
    public var optimizer: Optimizer
    public var data: DataCursor
    /// The learning-rate schedule's position: the step whose rate the last update used.
    public var scheduleStep: Int
    public var randomness: Randomness
    /// The run's resolved configuration as YAML (`RunConfig.yaml()`).
    public var runConfig: String
    /// The mesh the checkpoint was written on (tensors are stored whole, so any mesh can read them).
    public var mesh: RunConfig.Mesh
    /// When it was written, ISO 8601 in UTC, e.g. `2026-11-26T17:40:00Z`.
    public var created: String
    /// The code that wrote it (``CodeRevision/current``).
    public var codeRevision: String

    /// - Parameters:
    ///   - created: Defaults to now (``timestamp(_:)``).
    ///   - codeRevision: Defaults to ``CodeRevision/current``.
    public init(kind: GemmaModel.Head, modelConfig: String, step: Int, tokensSeen: Int, optimizer: Optimizer,
                data: DataCursor, scheduleStep: Int, randomness: Randomness, runConfig: String,
                mesh: RunConfig.Mesh, created: String = CheckpointState.timestamp(),
                codeRevision: String = CodeRevision.current) {
        self.kind = kind
        self.modelConfig = modelConfig
        self.step = step
        self.tokensSeen = tokensSeen
        self.optimizer = optimizer
        self.data = data
        self.scheduleStep = scheduleStep
        self.randomness = randomness
        self.runConfig = runConfig
        self.mesh = mesh
        self.created = created
        self.codeRevision = codeRevision
    }

    /// `date` in ISO 8601, UTC, whole seconds: `2026-11-26T17:40:00Z`.
    public static func timestamp(_ date: Date = Date()) -> String {
        date.formatted(.iso8601)
    }
}
