import Autograd

extension GemmaModel {
    /// Rewards `[S]` of `S` right-padded sequences of `time` tokens (`ids: [S*time]`): the final-normed
    /// hidden state at each sequence's last real token (`lastTokens`, flat indices into `[S*time]`)
    /// times `score.weight`.
    public func rewards(ids: [Int32], sequences: Int, lastTokens: [Int32]) -> Tensor {
        guard let score else { preconditionFailure("rewards: this model has no reward head (load or build it with head: .reward)") }
        let h = hiddenStates(ids: ids, batch: sequences)                  // [S*T, D]
        let last = embedding(h, lastTokens)                                // [S, D]
        return reshape(matmul(last, score, transposeB: true), [sequences]) // [S]
    }

    /// The reward-model loss of `B` preference pairs laid out as `B` chosen then `B` rejected sequences:
    /// `mean(-logsigmoid(r_c - r_r - margin)) + centerCoef * mean((r_c + r_r)²)` (TRL's RewardTrainer),
    /// with the accuracy (fraction with `r_c > r_r`) and the mean margin `r_c - r_r`.
    public func rewardLoss(ids: [Int32], pairs: Int, lastTokens: [Int32], margin: Float, centerCoef: Float)
        -> (loss: Tensor, accuracy: Double, meanMargin: Double) {
        let r = rewards(ids: ids, sequences: 2 * pairs, lastTokens: lastTokens)
        let chosen = slice(r, axis: 0, 0..<pairs), rejected = slice(r, axis: 0, pairs..<(2 * pairs))
        let difference = chosen - rejected
        var loss = -mean(logSigmoid(difference - margin))
        if centerCoef != 0 {
            let total = chosen + rejected
            loss = loss + mean(total * total) * centerCoef
        }
        let d = difference.scalars
        let accuracy = Double(d.filter { $0 > 0 }.count) / Double(pairs)
        let meanMargin = d.reduce(0.0) { $0 + Double($1) } / Double(pairs)
        return (loss, accuracy, meanMargin)
    }
}
