import Foundation

/// What ``clippedPolicyLoss(logps:old:reference:advantages:mask:epsilon:beta:normalizer:)`` counted, over
/// the scored tokens it was given.
public struct PolicyLossCounts: Sendable {
    /// Scored tokens.
    public var tokens = 0
    /// Tokens whose ratio left `[1 − ε, 1 + ε]` on the side that clipping cuts off (below with a negative
    /// advantage, above with a positive one): TRL's `clip_ratio/region_mean` numerator.
    public var clipped = 0
    /// The sum of the per-token KL estimate of the loss (k3 when `beta` is non-zero), for the log.
    public var kl = 0.0

    public init() {}
}

/// PPO's clipped surrogate objective per token, with the k3 KL penalty of GRPO, summed over the scored
/// tokens and divided by `normalizer` (the scored tokens of the whole global batch):
///
///     ρ = exp(logp − old)                                  the ratio to the sampling policy
///     ℓ = −min(ρ·A, clip(ρ, 1 − ε, 1 + ε)·A) + β·k3          per scored token
///     k3 = exp(ref − logp) − (ref − logp) − 1              (Schulman's estimator, ≥ 0)
///     L = Σ ℓ / normalizer
///
/// The gradient with respect to `logp` is `(−A·ρ·[the unclipped term is the minimum] + β·(1 − exp(ref −
/// logp))) / normalizer`; at a tie (`ρ` inside the range, e.g. on-policy where `ρ = 1`) it is the
/// unclipped term's, as PyTorch's `min` and `clamp` give.
///
/// - Parameters:
///   - logps: `[B, T]` per-token log-probabilities under the policy being trained.
///   - old: `[B*T]` the sampling policy's (constants; `logps`' own values on-policy).
///   - reference: `[B*T]` the reference policy's, used when `beta` is not 0.
///   - advantages: `[B]` one per row.
///   - mask: `[B*T]` 1 for a scored (completion) token, 0 elsewhere.
public func clippedPolicyLoss(logps: Tensor, old: [Float], reference: [Float]?, advantages: [Float], mask: [Float],
                              epsilon: Float, beta: Float, normalizer: Float) -> (loss: Tensor, counts: PolicyLossCounts) {
    let (rows, n) = (logps.shape[0], logps.count)
    let time = n / rows
    precondition(logps.shape.count == 2 && old.count == n && mask.count == n && advantages.count == rows
                 && (beta == 0 || reference?.count == n), "clippedPolicyLoss: shapes \(logps.shape), \(old.count), \(mask.count), \(advantages.count)")
    var total = 0.0
    var counts = PolicyLossCounts()
    var gradient = [Float](repeating: 0, count: n)  // dL/dlogp
    for i in 0..<n where mask[i] != 0 {
        let a = advantages[i / time], logp = logps.data[i]
        let ratio = Foundation.exp(logp - old[i])
        let clipped = min(max(ratio, 1 - epsilon), 1 + epsilon)
        let (unclippedTerm, clippedTerm) = (ratio * a, clipped * a)
        var value = -min(unclippedTerm, clippedTerm)
        var g: Float = clippedTerm < unclippedTerm ? 0 : -a * ratio
        if (ratio < 1 - epsilon && a < 0) || (ratio > 1 + epsilon && a > 0) { counts.clipped += 1 }
        if beta != 0, let reference {
            let d = reference[i] - logp, e = Foundation.exp(d)
            let k3 = e - d - 1
            value += beta * k3
            g += beta * (1 - e)
            counts.kl += Double(k3)
        }
        total += Double(value)
        gradient[i] = g / normalizer
        counts.tokens += 1
    }
    let out = Tensor([Float(total / Double(normalizer))], shape: [1])
    return (out.recorded("clippedPolicyLoss", [logps]) { g in
        let scale = g.data[0]
        logps.accumulateGrad(Tensor(gradient.map { $0 * scale }, shape: logps.shape))
    }, counts)
}
