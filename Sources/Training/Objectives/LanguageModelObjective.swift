import Autograd
import Datasets
import Gemma

/// Next-token prediction: pretraining on packed text (every token after `<bos>` predicted) and SFT on
/// dialogues in the turn format (model-turn tokens only). The two differ only in how rows are read.
///
/// Each micro-batch's summed cross-entropy is divided by the predicted tokens of the whole global batch,
/// so the accumulated gradient is exactly that of one batch holding every sequence (not a mean of
/// micro-batch means).
public final class LanguageModelObjective: TrainingObjective {
    let context: ObjectiveContext
    var train: BatchSchedule<PackedRow>
    let eval: any RowSource<PackedRow>

    /// Pretraining: `data.train`/`data.eval` are text (`.txt`, `.jsonl`) or prepared directories.
    public static func pretraining(_ context: ObjectiveContext) throws -> LanguageModelObjective {
        let d = context.config.data
        return try LanguageModelObjective(context, format: .text) { path in
            try TrainingData.textRows(path, tokenizer: context.tokenizer, seqLen: d.seqLen, packing: d.packing,
                                      overlong: context.overlong, skipBadRows: d.skipBadRows)
        }
    }

    /// SFT: `data.train`/`data.eval` are JSONL dialogues.
    public static func supervisedFineTuning(_ context: ObjectiveContext) throws -> LanguageModelObjective {
        let d = context.config.data
        let template = try ChatTemplate(tokenizer: context.tokenizer)
        return try LanguageModelObjective(context, format: .chat) { path in
            try TrainingData.requireFile(path, format: "chat")
            let loaded = try TrainingData.chat(path, template: template, seqLen: d.seqLen, packing: d.packing,
                                               overlong: context.overlong, skipBadRows: d.skipBadRows)
            return (loaded.rows, loaded.report)
        }
    }

    /// `rows` reads a file of `format` (which `data.filters` filters as).
    init(_ context: ObjectiveContext, format: RowFormat, rows: (String) throws -> (rows: any RowSource<PackedRow>, report: DataReport)) throws {
        self.context = context
        (train, eval) = try context.loadSplit(format: format, rows)
    }

    public var trainingRows: Int { train.rows.count }

    public func step(_ step: Int) throws -> StepResult {
        let config = context.config
        let micro = train.microBatches(step: step).map { Batch($0, time: config.data.seqLen) }
        // The normaliser: predicted tokens of the whole global batch (every data rank counts the same).
        let predicted = train.globalRows(step: step).reduce(0) { $0 + $1.tokenCount }
        guard predicted > 0 else { throw TrainingError("step \(step): no token of the global batch is predicted (\(config.data.train))") }
        let loss = Self.accumulate(context.model, micro, globalTokens: predicted)
        return StepResult(loss: try context.sumOverData([context.injected(loss, step: step)])[0],
                          tokens: config.train.batchSize * config.data.seqLen)
    }

    /// Forward and backward of `microBatches`, each loss divided by `globalTokens`; returns this rank's
    /// share of the step's loss.
    static func accumulate(_ model: GemmaModel, _ microBatches: [Batch], globalTokens: Int) -> Double {
        var loss = 0.0
        for batch in microBatches {
            let (l, _) = model.loss(ids: batch.ids, targets: batch.targets, batch: batch.rows, positions: batch.positions,
                                    documents: batch.attentionDocuments, normalizer: max(globalTokens, 1))
            l.backward()
            loss += Double(l.item)
        }
        return loss
    }

    /// `eval_loss`: the token-weighted mean cross-entropy.
    public func evaluate() throws -> [(String, Double)]? {
        let sums: [Double] = withNoGrad {  // [loss sum, tokens]
            var sums = [0.0, 0.0]
            for chunk in context.evaluationChunks(count: eval.count) {
                let b = Batch(chunk.map(eval.row(at:)), time: context.config.data.seqLen)
                let (l, count) = context.model.loss(ids: b.ids, targets: b.targets, batch: b.rows, positions: b.positions,
                                                    documents: b.attentionDocuments)
                sums[0] += Double(l.item) * Double(count)
                sums[1] += Double(count)
            }
            return sums
        }
        let total = try context.sumOverData(sums)
        return total[1] > 0 ? [("eval_loss", total[0] / total[1])] : nil
    }
}
