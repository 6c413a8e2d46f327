import ArgumentParser
import Autograd
import Datasets
import Foundation
import Gemma

/// `gemma-train eval ...`: evaluation entry points that print one JSON line.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a checkpoint on a data file (one JSON line on stdout).",
        subcommands: [EvalLoss.self])
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
            token-weighted mean over the whole file. Rows longer than the model's context are truncated.
            """)

    @OptionGroup var model: CheckpointOptions
    @Option(help: "The data file.") var data: String
    @Option(help: "text or chat.") var format = "text"

    func validate() throws {
        guard ["text", "chat"].contains(format) else { throw ValidationError("--format must be text or chat, got '\(format)'") }
    }

    func run() throws {
        try reportingErrors {
            let (model, tokenizer) = try self.model.load()
            let examples: [Example]
            if format == "text" {
                examples = try EvaluationRows.texts(from: data).map { try EvaluationRows.textExample($0.text, tokenizer: tokenizer) }
            } else {
                examples = try EvaluationRows.chatExamples(from: data, template: ChatTemplate(tokenizer: tokenizer)).map(\.example)
            }
            let context = model.config.maxPositionEmbeddings
            var total = 0.0, tokens = 0, truncated = 0
            for example in examples {
                var ids = example.ids, targets = example.targets
                if ids.count > context {
                    ids = Array(ids.prefix(context))
                    targets = Array(targets.prefix(context))
                    truncated += 1
                }
                let (loss, count) = withNoGrad { model.loss(ids: ids, targets: targets, batch: 1) }
                total += Double(loss.item) * Double(count)
                tokens += count
            }
            guard tokens > 0 else { throw ValidationError("\(data): no tokens to evaluate") }
            let mean = total / Double(tokens)
            print(jsonObject([
                ("loss", .exact(mean)), ("tokens", .int(tokens)), ("perplexity", .exact(Foundation.exp(mean))),
                ("rows", .int(examples.count)), ("truncated_rows", .int(truncated)),
            ]))
        }
    }
}
