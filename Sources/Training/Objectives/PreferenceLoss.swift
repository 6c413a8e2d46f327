import Autograd

/// The offline preference losses of DPO and its variants, on summed completion log-probabilities.
///
/// With `π` the policy's and `r` the reference's summed log-probabilities of a completion, and
/// `d = (π_c − r_c) − (π_r − r_r)` for chosen `c` and rejected `r`:
/// - `sigmoid` (DPO; conservative DPO with label smoothing `ε`):
///   `−(1 − ε)·log σ(β·d) − ε·log σ(−β·d)`;
/// - `ipo`: `(d − 1/(2β))²`.
///
/// These are TRL's `DPOTrainer.dpo_loss` formulas; note that TRL's IPO averages the log-probabilities
/// over the completion's tokens, while GemmaTrain, as its issue specifies, sums them for every loss.
public struct PreferenceLoss: Sendable {
    public enum Kind: String, Sendable, CaseIterable { case sigmoid, ipo }

    public let kind: Kind
    public let beta: Float, labelSmoothing: Float

    public init(kind: Kind, beta: Float, labelSmoothing: Float = 0) {
        self.kind = kind
        self.beta = beta
        self.labelSmoothing = labelSmoothing
    }

    /// Sums over the pairs of a micro-batch, for the step's metrics (TRL's names: rewards = β·(π − r)).
    public struct Sums: Sendable {
        public var pairs = 0
        public var rewardsChosen = 0.0, rewardsRejected = 0.0, accuracies = 0.0
        public var logpsChosen = 0.0, logpsRejected = 0.0

        public init() {}

        /// The sums as one flat array (for a reduction over ranks) and back.
        public var values: [Double] { [Double(pairs), rewardsChosen, rewardsRejected, accuracies, logpsChosen, logpsRejected] }
        public init(values v: [Double]) {
            (pairs, rewardsChosen, rewardsRejected, accuracies, logpsChosen, logpsRejected) = (Int(v[0]), v[1], v[2], v[3], v[4], v[5])
        }

        public static func + (a: Sums, b: Sums) -> Sums { Sums(values: zip(a.values, b.values).map { $0 + $1 }) }
    }

    /// The loss of `P` pairs, summed and divided by `normalizer` (the pairs of the whole global batch, so
    /// that micro-batches and ranks add up to one batch's mean), and the pairs' metric sums.
    /// - Parameters:
    ///   - policy: `[2P]` summed log-probabilities: the chosen completions, then the rejected ones.
    ///   - reference: the reference model's, in the same layout (constants).
    public func callAsFunction(policy: Tensor, reference: [Float], normalizer: Int) -> (loss: Tensor, sums: Sums) {
        let p = policy.count / 2
        precondition(policy.shape == [2 * p] && reference.count == 2 * p,
                     "PreferenceLoss: policy \(policy.shape) and \(reference.count) reference values")
        let chosen = slice(policy, axis: 0, 0..<p), rejected = slice(policy, axis: 0, p..<(2 * p))
        let referenceMargin = Tensor((0..<p).map { reference[$0] - reference[p + $0] }, shape: [p])
        let d = (chosen - rejected) - referenceMargin  // [P]
        let perPair: Tensor
        switch kind {
        case .sigmoid:
            let z = d * beta
            perPair = logSigmoid(z) * -(1 - labelSmoothing) + logSigmoid(z * -1) * -labelSmoothing
        case .ipo:
            let u = d - 1 / (2 * beta)
            perPair = u * u
        }
        var sums = Sums()
        sums.pairs = p
        for i in 0..<p {
            let (pc, pr) = (Double(policy.data[i]), Double(policy.data[p + i]))
            let rc = Double(beta) * (pc - Double(reference[i])), rr = Double(beta) * (pr - Double(reference[p + i]))
            sums.rewardsChosen += rc
            sums.rewardsRejected += rr
            sums.accuracies += rc > rr ? 1 : 0
            sums.logpsChosen += pc
            sums.logpsRejected += pr
        }
        return (sum(perPair) / Float(normalizer), sums)
    }
}
