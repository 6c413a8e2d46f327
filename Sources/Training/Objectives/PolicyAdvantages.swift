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
}
