import Autograd
import Datasets
import Gemma

/// A reward model on preference pairs: the Bradley-Terry loss `-log σ(r_chosen - r_rejected - margin)
/// + center_coef · (r_chosen + r_rejected)²`, read at each sequence's last token. Each micro-batch's mean
/// is weighted by its share of the step's pairs, so the gradient is that of the mean over all pairs.
/// Logs `accuracy` (chosen scored higher) and `margin` (mean `r_chosen - r_rejected`).
public final class RewardObjective: TrainingObjective {
    let context: ObjectiveContext
    var train: BatchSchedule<PreferencePair>
    let eval: any RowSource<PreferencePair>

    public init(_ context: ObjectiveContext) throws {
        self.context = context
        let d = context.config.data
        let template = try ChatTemplate(tokenizer: context.tokenizer)
        (train, eval) = try context.loadSplit(format: .preference) { path in
            try TrainingData.requireFile(path, format: "preference")
            let loaded = try TrainingData.preferences(path, template: template, seqLen: d.seqLen, overlong: context.overlong,
                                                      skipBadRows: d.skipBadRows)
            return (loaded.pairs, loaded.report)
        }
    }

    public var trainingRows: Int { train.rows.count }
    public var headlineMetrics: [String] { ["accuracy"] }
    public var batchUnit: String { "pairs" }

    var margin: Float { Float(context.config.reward.margin) }
    var centerCoef: Float { Float(context.config.reward.centerCoef) }

    public func step(_ step: Int) throws -> StepResult {
        let globalPairs = context.config.train.batchSize
        var loss = 0.0, accuracy = 0.0, meanMargin = 0.0, tokens = 0
        for pairs in train.microBatches(step: step) {
            let batch = PreferenceBatch(pairs, padId: context.padId)
            let r = context.model.rewardLoss(ids: batch.ids, pairs: batch.pairs, lastTokens: batch.lastTokens,
                                             margin: margin, centerCoef: centerCoef)
            let weight = Double(batch.pairs) / Double(globalPairs)
            let weighted = r.loss * Float(weight)
            weighted.backward()
            loss += Double(weighted.item)
            accuracy += r.accuracy * weight
            meanMargin += r.meanMargin * weight
            tokens += batch.ids.count
        }
        let global = try context.sumOverData([context.injected(loss, step: step), accuracy, meanMargin, Double(tokens)])
        return StepResult(loss: global[0], tokens: Int(global[3]), metrics: [("accuracy", global[1]), ("margin", global[2])])
    }

    /// `eval_loss` and `eval_accuracy`, means over the evaluation pairs.
    public func evaluate() throws -> [(String, Double)]? {
        let sums: [Double] = withNoGrad {  // [loss sum, correct pairs, pairs]
            var sums = [0.0, 0.0, 0.0]
            for chunk in context.evaluationChunks(count: eval.count) {
                let b = PreferenceBatch(chunk.map(eval.row(at:)), padId: context.padId)
                let r = context.model.rewardLoss(ids: b.ids, pairs: b.pairs, lastTokens: b.lastTokens, margin: margin,
                                                 centerCoef: centerCoef)
                sums[0] += Double(r.loss.item) * Double(b.pairs)
                sums[1] += r.accuracy * Double(b.pairs)
                sums[2] += Double(b.pairs)
            }
            return sums
        }
        let total = try context.sumOverData(sums)
        return total[2] > 0 ? [("eval_loss", total[0] / total[2]), ("eval_accuracy", total[1] / total[2])] : nil
    }
}
