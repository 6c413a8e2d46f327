import Checkpoint
import Gemma

/// What a run optimises: its data, its step (forward and backward over this rank's micro-batches,
/// normalised by the global batch), the metrics it logs, its evaluation and what it adds to a
/// checkpoint. Pretraining, SFT, reward-model training and DPO conform; the step loop (``Trainer``),
/// the mesh reduction, clipping, AdamW, logging, checkpointing and resume know none of them.
public protocol TrainingObjective: AnyObject {
    /// Rows (or pairs) of the training data: the data cursor's epoch in checkpoints counts them.
    var trainingRows: Int { get }

    /// Called once before the first step, after a resume has restored the parameters (`checkpoint` is
    /// then the file resumed from, open for this objective's own tensors; nil for a fresh start).
    func prepare(resumingFrom checkpoint: CheckpointReader?) throws

    /// Forward and backward of step `step` (1-based) on this rank's slice of the global batch,
    /// accumulating into the model's gradients (zeroed by the caller); the returned values are the whole
    /// global batch's, the same on every rank.
    func step(_ step: Int) throws -> StepResult

    /// Metrics on the evaluation data without gradients (`eval_loss` first), the same on every rank; nil
    /// without evaluation data.
    func evaluate() throws -> [(String, Double)]?

    /// Names of its step metrics the progress line shows after the loss; none by default.
    var headlineMetrics: [String] { get }

    /// What one of `train.batch_size` is, for the log: "sequences" by default, "pairs".
    var batchUnit: String { get }

    /// Full tensors this objective keeps in the checkpoint of step `step` under `/objective/<name>` (e.g.
    /// DPO's reference log-probabilities, an RL rollout still in use); none by default. Every rank calls it
    /// at each save (so it may reduce over the mesh); rank 0 writes what it returns.
    func checkpointTensors(step: Int) throws -> [(name: String, values: [Float])]
}

extension TrainingObjective {
    public func prepare(resumingFrom checkpoint: CheckpointReader?) throws {}
    public func checkpointTensors(step: Int) throws -> [(name: String, values: [Float])] { [] }
    public var headlineMetrics: [String] { [] }
    public var batchUnit: String { "sequences" }
}

/// One step's figures over the whole global batch.
public struct StepResult: Sendable {
    /// The objective's loss (its share on each data rank, summed).
    public var loss: Double
    /// Input tokens of the global batch (for tokens/s and `tokens`).
    public var tokens: Int
    /// Further metrics, logged under these names after the fixed ones.
    public var metrics: [(String, Double)]

    public init(loss: Double, tokens: Int, metrics: [(String, Double)] = []) {
        self.loss = loss
        self.tokens = tokens
        self.metrics = metrics
    }
}
