import Autograd
import Datasets
import Gemma

/// Forward and backward of one optimizer step, over its micro-batches. Gradients accumulate in the
/// model's flat gradient buffer (zero it before the step).
public enum Steps {
    /// The language-model loss: each micro-batch's summed cross-entropy is divided by `globalTokens`, the
    /// predicted tokens of the whole global batch, so the accumulated gradient is exactly that of one
    /// batch holding every sequence (not a mean of micro-batch means). Returns the step's mean loss over
    /// its local tokens' share and the local token count.
    public static func languageModel(_ model: GemmaModel, _ microBatches: [Batch], globalTokens: Int)
        -> (loss: Double, tokens: Int) {
        var loss = 0.0, tokens = 0
        for batch in microBatches {
            let (l, count) = model.loss(ids: batch.ids, targets: batch.targets, batch: batch.rows,
                                        positions: batch.positions, documents: batch.attentionDocuments,
                                        normalizer: max(globalTokens, 1))
            l.backward()
            loss += Double(l.item)
            tokens += count
        }
        return (loss, tokens)
    }

    /// Reward-model statistics of a step.
    public struct RewardStats: Sendable {
        public var loss = 0.0, accuracy = 0.0, margin = 0.0
        public var pairs = 0
    }

    /// The Bradley-Terry reward loss: each micro-batch's mean loss weighted by its share of the
    /// `globalPairs` pairs of the step, so the gradient is that of the mean over all pairs.
    public static func reward(_ model: GemmaModel, _ microBatches: [PreferenceBatch], globalPairs: Int,
                              margin: Float, centerCoef: Float) -> RewardStats {
        var stats = RewardStats()
        for batch in microBatches {
            let (l, accuracy, meanMargin) = model.rewardLoss(ids: batch.ids, pairs: batch.pairs, lastTokens: batch.lastTokens,
                                                             margin: margin, centerCoef: centerCoef)
            let weight = Double(batch.pairs) / Double(max(globalPairs, 1))
            let weighted = l * Float(weight)
            weighted.backward()
            stats.loss += Double(weighted.item)
            stats.accuracy += accuracy * weight
            stats.margin += meanMargin * weight
            stats.pairs += batch.pairs
        }
        return stats
    }
}
