import Autograd
import Checkpoint
import Datasets
import Gemma

/// DPO: the policy learns from preference pairs against a frozen reference (``PreferenceLoss``).
///
/// The reference's summed completion log-probabilities are computed once, before the first step, for
/// every training and evaluation pair (batched; on a mesh each data rank scores its share and the model
/// axis shards the forward), then kept: no reference model is held while training, and checkpoints carry
/// them (`/objective/reference_logps`, `/objective/reference_logps_eval`: `[2N]`, pair `i`'s chosen at `2i`
/// and rejected at `2i+1`), so a resumed run uses exactly the values of the uninterrupted one. The
/// reference is the run's own starting weights unless `dpo.reference` names a model.
///
/// Logged with TRL's names: `rewards/chosen`, `rewards/rejected` (means of β·(π − r)), `rewards/accuracies`,
/// `rewards/margins`, `logps/chosen`, `logps/rejected` (means of the summed log-probabilities).
public final class PreferenceObjective: TrainingObjective {
    let context: ObjectiveContext
    let loss: PreferenceLoss
    let trainPairs: [CompletionPair], evalPairs: [CompletionPair]
    /// Pair indices in the sample order.
    var train: BatchSchedule<Int>
    /// `[2N]` each: chosen at `2i`, rejected at `2i + 1`.
    var reference: [Float] = [], referenceEval: [Float] = []
    /// Loads another model as the reference (this rank's shards); nil when the reference is the run's
    /// starting weights.
    let loadReference: (() throws -> GemmaModel)?

    static let referenceName = "reference_logps", referenceEvalName = "reference_logps_eval"

    public init(_ context: ObjectiveContext, loadReference: (() throws -> GemmaModel)?) throws {
        self.context = context
        self.loadReference = loadReference
        let d = context.config
        loss = PreferenceLoss(kind: PreferenceLoss.Kind(rawValue: d.dpo.loss.rawValue)!, beta: Float(d.dpo.beta),
                              labelSmoothing: Float(d.dpo.labelSmoothing))
        let template = try ChatTemplate(tokenizer: context.tokenizer)
        var loaded: [[CompletionPair]] = []  // the training pairs, then the evaluation pairs
        let (schedule, _) = try context.loadSplit(format: .preference) { path -> (rows: any RowSource<Int>, report: DataReport) in
            try TrainingData.requireFile(path, format: "preference")
            let read = try TrainingData.completionPairs(path, template: template, seqLen: d.data.seqLen, overlong: context.overlong,
                                                        skipBadRows: d.data.skipBadRows)
            loaded.append(read.pairs)
            return (Array(read.pairs.indices), read.report)
        }
        train = schedule
        trainPairs = loaded[0]
        evalPairs = loaded.count > 1 ? loaded[1] : []
    }

    /// Throws a ``TrainingError`` starting with `name` unless `reference` can score for a policy of
    /// architecture `policy`: a causal language model of the same config, whose tokenizer (when it
    /// stores one) is the policy's.
    public static func checkReference(_ reference: GemmaModel, tokenizer: [UInt8]?, named name: String, policy: GemmaConfig,
                                      policyTokenizer: [UInt8]) throws {
        guard reference.head == .causalLM else {
            throw TrainingError("\(name) is a reward model; the reference is a causal language model")
        }
        if let difference = reference.config.firstDifference(from: policy) {
            throw TrainingError("\(name) differs from the policy: \(difference.key): reference \(difference.mine), policy \(difference.theirs)")
        }
        if let tokenizer, tokenizer != policyTokenizer {
            throw TrainingError("\(name) stores another tokenizer than the policy's: its log-probabilities are of other tokens")
        }
    }

    public var trainingRows: Int { trainPairs.count }
    public var headlineMetrics: [String] { ["rewards/accuracies", "rewards/margins"] }
    public var batchUnit: String { "pairs" }

    /// Restores the reference log-probabilities from the checkpoint resumed from, or computes them.
    public func prepare(resumingFrom checkpoint: CheckpointReader?) throws {
        if let checkpoint {
            reference = try Self.read(checkpoint, Self.referenceName, pairs: trainPairs.count)
            referenceEval = try Self.read(checkpoint, Self.referenceEvalName, pairs: evalPairs.count)
            return
        }
        let model = try loadReference?() ?? context.model
        let start = ContinuousClock.now
        (reference, referenceEval) = try withNoGrad {
            (try scoreAll(model, trainPairs), try scoreAll(model, evalPairs))
        }
        let seconds = (ContinuousClock.now - start).seconds
        context.log("reference log-probabilities of \(trainPairs.count) training and \(evalPairs.count) evaluation pairs "
                    + "in \(String(format: "%.1f", seconds)) s (\(context.config.dpo.reference ?? "the starting weights"))")
    }

    public func checkpointTensors(step: Int) -> [(name: String, values: [Float])] {
        [(Self.referenceName, reference), (Self.referenceEvalName, referenceEval)]
    }

    static func read(_ checkpoint: CheckpointReader, _ name: String, pairs: Int) throws -> [Float] {
        let (shape, values) = try checkpoint.read(.objective, name: name)
        guard shape == [2 * pairs] else {
            throw TrainingError("\(checkpoint.path): \(TensorGroup.objective.dataset(name)) has shape \(shape), "
                                + "the data has \(pairs) pairs (shape [\(2 * pairs)]): the data changed since the checkpoint")
        }
        return values
    }

    /// `[2N]` summed completion log-probabilities of `pairs` under `model`: micro-batches of
    /// `train.micro_batch_size` pairs, data rank `d` of `D` scoring micro-batches `d, d + D, ...`, then summed
    /// over `data` (each pair is scored by one rank) so that every rank holds all.
    func scoreAll(_ model: GemmaModel, _ pairs: [CompletionPair]) throws -> [Float] {
        var values = [Double](repeating: 0, count: 2 * pairs.count)
        for range in context.chunks(count: pairs.count) {
            let logps = score(model, range.map { pairs[$0] })
            for (k, i) in range.enumerated() {
                values[2 * i] = Double(logps.data[k])
                values[2 * i + 1] = Double(logps.data[range.count + k])
            }
        }
        return try context.sumOverData(values).map(Float.init)
    }

    /// `[2P]` summed completion log-probabilities: the chosen completions, then the rejected ones.
    func score(_ model: GemmaModel, _ pairs: [CompletionPair]) -> Tensor {
        let b = CompletionBatch.make(pairs, padId: context.padId)
        return model.sequenceLogProbs(ids: b.ids, targets: b.targets, batch: b.rows, positions: b.positions)
    }

    /// The reference values of `indices` in the loss's layout: chosen ones, then rejected ones.
    func referenceValues(_ values: [Float], _ indices: [Int]) -> [Float] {
        indices.map { values[2 * $0] } + indices.map { values[2 * $0 + 1] }
    }

    public func step(_ step: Int) throws -> StepResult {
        let globalPairs = context.config.train.batchSize
        var lossShare = 0.0, tokens = 0
        var sums = PreferenceLoss.Sums()
        for indices in train.microBatches(step: step) {
            let pairs = indices.map { trainPairs[$0] }
            let logps = score(context.model, pairs)
            let (l, s) = loss(policy: logps, reference: referenceValues(reference, indices), normalizer: globalPairs)
            l.backward()
            lossShare += Double(l.item)
            sums = sums + s
            tokens += pairs.reduce(0) { $0 + 2 * $1.prompt.count + $1.chosen.count + $1.rejected.count }
        }
        let global = try context.sumOverData([context.injected(lossShare, step: step), Double(tokens)] + sums.values)
        return StepResult(loss: global[0], tokens: Int(global[1]), metrics: Self.metrics(PreferenceLoss.Sums(values: Array(global[2...]))))
    }

    /// TRL's metric names, means over the pairs.
    static func metrics(_ s: PreferenceLoss.Sums, prefix: String = "") -> [(String, Double)] {
        let n = Double(max(s.pairs, 1))
        return [("\(prefix)rewards/chosen", s.rewardsChosen / n), ("\(prefix)rewards/rejected", s.rewardsRejected / n),
                ("\(prefix)rewards/accuracies", s.accuracies / n), ("\(prefix)rewards/margins", (s.rewardsChosen - s.rewardsRejected) / n),
                ("\(prefix)logps/chosen", s.logpsChosen / n), ("\(prefix)logps/rejected", s.logpsRejected / n)]
    }

    /// `eval_loss` (the mean over the evaluation pairs) and the evaluation's reward metrics.
    public func evaluate() throws -> [(String, Double)]? {
        var lossSum = 0.0
        var sums = PreferenceLoss.Sums()
        withNoGrad {
            for chunk in context.evaluationChunks(count: evalPairs.count) {
                let indices = Array(chunk)
                let logps = score(context.model, indices.map { evalPairs[$0] })
                let (l, s) = loss(policy: logps, reference: referenceValues(referenceEval, indices), normalizer: 1)
                lossSum += Double(l.item)
                sums = sums + s
            }
        }
        let global = try context.sumOverData([lossSum] + sums.values)
        let total = PreferenceLoss.Sums(values: Array(global[1...]))
        guard total.pairs > 0 else { return nil }
        return [("eval_loss", global[0] / Double(total.pairs))] + Self.metrics(total, prefix: "eval_")
    }
}
