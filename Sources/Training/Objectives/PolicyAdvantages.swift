/// How online RL turns the scores of a prompt's `K` completions into advantages (Docs/Alignment.md).
/// Completions are laid out group by group: `rewards[g*K ..< (g+1)*K]` are prompt `g`'s.
public enum PolicyAdvantages {
    /// RLOO (Ahmadian et al. 2024; TRL's `RLOOTrainer`): each completion's reward minus the mean of the
    /// other `K − 1` rewards of its prompt. `K` must be at least 2.
    public static func leaveOneOut(_ rewards: [Double], groupSize k: Int) -> [Double] {
        precondition(k >= 2 && rewards.count % k == 0, "leaveOneOut: \(rewards.count) rewards in groups of \(k)")
        var advantages = rewards
        for start in stride(from: 0, to: rewards.count, by: k) {
            let group = rewards[start..<(start + k)]
            let total = group.reduce(0, +)
            for i in group.indices { advantages[i] = rewards[i] - (total - rewards[i]) / Double(k - 1) }
        }
        return advantages
    }

    /// GRPO (Shao et al. 2024; TRL's `GRPOTrainer`): `(r − mean) / (std + 1e-4)` within each prompt's
    /// group, with the unbiased standard deviation (`torch.std`); 0 for a group of one.
    public static func groupNormalized(_ rewards: [Double], groupSize k: Int) -> [Double] {
        precondition(k >= 1 && rewards.count % k == 0, "groupNormalized: \(rewards.count) rewards in groups of \(k)")
        var advantages = rewards
        for start in stride(from: 0, to: rewards.count, by: k) {
            let group = rewards[start..<(start + k)]
            let mean = group.reduce(0, +) / Double(k)
            let std = k > 1 ? (group.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(k - 1)).squareRoot() : 0
            for i in group.indices { advantages[i] = k > 1 ? (rewards[i] - mean) / (std + 1e-4) : 0 }
        }
        return advantages
    }

    /// RLOO's rewards: each completion's score less `beta` times its summed k1 KL estimate
    /// `Σ_t (log π_old − log π_ref)` over its completion tokens (TRL's `RLOOTrainer`).
    /// - Parameters:
    ///   - old, reference, mask: `[rows * time]`, row `r` the completion of `scores[r]`.
    public static func klPenalized(_ scores: [Double], old: [Float], reference: [Float], mask: [Float], time: Int, beta: Double) -> [Double] {
        scores.enumerated().map { r, score in
            var kl = 0.0
            for i in (r * time)..<((r + 1) * time) where mask[i] != 0 { kl += Double(old[i] - reference[i]) }
            return score - beta * kl
        }
    }
}
