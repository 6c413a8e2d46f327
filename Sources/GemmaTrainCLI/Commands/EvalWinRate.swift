import ArgumentParser
import Autograd
import Datasets
import Foundation
import Gemma

/// `gemma-train eval winrate`: side-by-side evaluation judged by a reward model, as the Gemma report
/// measures its RLHF policies: both models answer every prompt, the judge scores both answers, and the
/// policy's win rate is reported with a 95% Wilson interval.
struct EvalWinRate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "winrate",
        abstract: "Win rate of a policy against a baseline, judged by a reward model (one JSON line).",
        discussion: """
            Prompts: JSONL rows with "prompt" (a string or a list of messages ending with a user turn), e.g. the
            preference files. Each model samples one reply per prompt (the seed of prompt i is a function of --seed
            and i, so both models and reruns draw alike); the judge scores prompt + reply at its last token. A win
            is a strictly higher score, a tie counts half. Prints {"win_rate", "ties", "ci95_low", "ci95_high", "n",
            "mean_reward_policy", "mean_reward_baseline"}; --save writes every prompt's replies and scores.
            Replies are sampled --batch prompts at a time (one batched decoding step for all of them).
            """)

    @Option(help: "The policy: a GemmaTrain .h5 checkpoint or a Hugging Face directory.") var policy: String
    @Option(help: "The baseline to compare with (e.g. the SFT checkpoint).") var baseline: String
    @Option(help: "The judge: a reward-model checkpoint (gemma-train reward).") var judge: String
    @Option(help: "JSONL prompts.") var prompts: String
    @Option(parsing: .unconditional, help: "Use the first N prompts (default: all).") var samples: Int?
    @Option(parsing: .unconditional, help: "Sampling temperature; 0 is greedy.") var temperature: Float = 0.7
    @Option(parsing: .unconditional, help: "Most tokens per reply.") var maxTokens = 128
    @Option(parsing: .unconditional, help: "Random seed.") var seed: UInt64 = 0
    @Option(parsing: .unconditional, help: "Prompts sampled together.") var batch = 8
    @Option(help: "Write every prompt's replies and scores here (JSONL).") var save: String?
    @Flag(help: "Replace an existing --save file.") var force = false

    func validate() throws {
        if let samples, samples < 1 { throw ValidationError("--samples must be at least 1, got \(samples)") }
        guard temperature.isFinite && temperature >= 0 else {
            throw ValidationError("--temperature must be a finite number >= 0 (0 is greedy), got \(temperature)")
        }
        guard maxTokens >= 1 else { throw ValidationError("--max-tokens must be at least 1, got \(maxTokens)") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
    }

    func run() throws {
        try reportingErrors {
            if let save { try OutputPath.check(save, kind: .file, force: force, option: "--save") }
            let (policyModel, tokenizer) = try CheckpointOptions.load(policy, expecting: .causalLM)
            let (baselineModel, baselineTokenizer) = try CheckpointOptions.load(baseline, expecting: .causalLM)
            let (judgeModel, judgeTokenizer) = try CheckpointOptions.load(judge, expecting: .reward)
            guard baselineTokenizer.modelData == tokenizer.modelData, judgeTokenizer.modelData == tokenizer.modelData else {
                throw ValidationError("--policy, --baseline and --judge must share one tokenizer")
            }
            let template = try ChatTemplate(tokenizer: tokenizer)
            let rows = try PromptRow.read(prompts, limit: samples, template: template)
            let promptIds = rows.map(\.ids)

            let base = SamplingOptions(temperature: temperature, seed: seed, vocabularyLimit: tokenizer.vocabularySize)
            let options = rows.indices.map { base.seeded(by: $0) }
            let answers = try [policyModel, baselineModel].map { model in
                try stride(from: 0, to: rows.count, by: batch).flatMap { start in
                    let range = start..<min(start + batch, rows.count)
                    return try BatchGenerator.generate(model, prompts: Array(promptIds[range]), options: Array(options[range]),
                                                       stopTokens: tokenizer.stopTokens, maxTokens: maxTokens).map(tokenizer.decode)
                }
            }
            var wins = 0, ties = 0, policySum = 0.0, baselineSum = 0.0
            var saved = ""
            for (index, row) in rows.enumerated() {
                let replies = [answers[0][index], answers[1][index]]
                let scores = try replies.map { reply in
                    let ids = try template.encode(row.row.prompt + [.model(reply)]).ids
                    return Double(withNoGrad { judgeModel.rewards(ids: ids, sequences: 1, lastTokens: [Int32(ids.count - 1)]) }.data[0])
                }
                if scores[0] > scores[1] { wins += 1 } else if scores[0] == scores[1] { ties += 1 }
                policySum += scores[0]
                baselineSum += scores[1]
                saved += jsonObject([("line", .int(row.line)), ("policy", .string(replies[0])), ("baseline", .string(replies[1])),
                                     ("reward_policy", .exact(scores[0])), ("reward_baseline", .exact(scores[1]))]) + "\n"
            }
            let n = rows.count
            let rate = (Double(wins) + 0.5 * Double(ties)) / Double(n)
            let interval = wilsonInterval(successes: Double(wins) + 0.5 * Double(ties), n: n)
            if let save { try OutputPath.write(saved, to: save) }
            print(jsonObject([("win_rate", .exact(rate)), ("ties", .int(ties)), ("ci95_low", .exact(interval.low)),
                              ("ci95_high", .exact(interval.high)), ("n", .int(n)),
                              ("mean_reward_policy", .exact(policySum / Double(n))), ("mean_reward_baseline", .exact(baselineSum / Double(n)))]))
        }
    }
}
