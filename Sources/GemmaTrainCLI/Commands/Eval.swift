import ArgumentParser
import Autograd
import Datasets
import Foundation
import Gemma

/// `gemma-train eval ...`: evaluation entry points that print one JSON line.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a checkpoint on a data file (one JSON line on stdout).",
        subcommands: [EvalLoss.self, EvalReward.self, EvalLogProbs.self, EvalDPO.self, EvalWinRate.self, EvalChoice.self, EvalMemorization.self])
}

/// `gemma-train eval loss`: token-weighted mean cross-entropy over a file, and its perplexity.
struct EvalLoss: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loss",
        abstract: "Mean next-token loss over a file: {\"loss\", \"tokens\", \"perplexity\"}.",
        discussion: """
            text: each row (a line of a text file, or {"text": ...} in a .jsonl file) is <bos> tokens <eos>, and
            every token after <bos> is predicted. chat: each row is {"messages": [...]} in Gemma's turn format,
            and only model-turn tokens (with their <end_of_turn> and newline) are predicted. The loss is the
            token-weighted mean over the whole file. Rows longer than the model's context are truncated. Rows are
            scored in padded batches (--batch).
            """)

    @OptionGroup var model: CheckpointOptions
    @Option(help: "The data file.") var data: String
    @Option(help: "text or chat.") var format = "text"
    @Option(parsing: .unconditional, help: "Sequences per forward pass.") var batch = 8

    func validate() throws {
        guard ["text", "chat"].contains(format) else { throw ValidationError("--format must be text or chat, got '\(format)'") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
    }

    func run() throws {
        try reportingErrors {
            let (model, tokenizer) = try self.model.load(expecting: .causalLM)
            let examples: [Example]
            if format == "text" {
                examples = try EvaluationRows.texts(from: data).map { try EvaluationRows.textExample($0.text, tokenizer: tokenizer) }
            } else {
                examples = try EvaluationRows.chatExamples(from: data, template: ChatTemplate(tokenizer: tokenizer)).map(\.example)
            }
            let (sums, truncated) = try EvalLogProbs.summedLogProbs(model, examples, batch: batch, padId: tokenizer.padId ?? 0)
            let tokens = sums.reduce(0) { $0 + $1.tokens }
            guard tokens > 0 else { throw ValidationError("\(data): no tokens to evaluate") }
            let mean = -sums.reduce(0.0) { $0 + $1.logp } / Double(tokens)
            print(jsonObject([
                ("loss", .exact(mean)), ("tokens", .int(tokens)), ("perplexity", .exact(Foundation.exp(mean))),
                ("rows", .int(examples.count)), ("truncated_rows", .int(truncated)),
            ]))
        }
    }
}

/// `gemma-train eval reward`: a reward model's accuracy on preference pairs.
struct EvalReward: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reward",
        abstract: "Reward-model accuracy on preference pairs: {\"accuracy\", \"mean_margin\", \"pairs\"}.")

    @OptionGroup var model: CheckpointOptions
    @Option(help: "JSONL preference pairs {\"prompt\", \"chosen\", \"rejected\"}.") var data: String
    @Option(parsing: .unconditional, help: "Pairs per forward pass.") var batch = 8

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
    }

    func run() throws {
        try reportingErrors {
            let (model, tokenizer) = try self.model.load(expecting: .reward)
            let (pairs, _) = try TrainingData.preferences(data, template: ChatTemplate(tokenizer: tokenizer),
                                                          seqLen: model.config.maxPositionEmbeddings, overlong: .truncate,
                                                          skipBadRows: false)
            guard !pairs.isEmpty else { throw ValidationError("\(data): no preference pairs") }
            var correct = 0, marginSum = 0.0
            for start in stride(from: 0, to: pairs.count, by: self.batch) {
                let batch = PreferenceBatch(Array(pairs[start..<min(start + self.batch, pairs.count)]), padId: tokenizer.padId ?? 0)
                let r = withNoGrad { model.rewards(ids: batch.ids, sequences: 2 * batch.pairs, lastTokens: batch.lastTokens) }.scalars
                for i in 0..<batch.pairs {
                    let m = Double(r[i]) - Double(r[batch.pairs + i])
                    correct += m > 0 ? 1 : 0
                    marginSum += m
                }
            }
            print(jsonObject([("accuracy", .exact(Double(correct) / Double(pairs.count))),
                              ("mean_margin", .exact(marginSum / Double(pairs.count))), ("pairs", .int(pairs.count))]))
        }
    }
}
