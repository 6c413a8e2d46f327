import ArgumentParser
import Checkpoint
import Foundation
import Datasets
import Gemma

/// `gemma-train generate`: one completion (or one chat reply with `--chat`), streamed to stdout; or, with
/// `--prompts F --out G`, a reply to every prompt of a file, sampled in batches.
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text from a prompt (streamed as it is produced), or replies to a file of prompts.",
        discussion: """
            --prompts F --out G: F holds JSONL rows with "prompt" (a string or messages ending with a user turn); G gets
            one {"line", "reply"} per prompt, in order. Prompts are sampled --batch at a time; prompt i's seed depends
            only on --seed and i.
            """)

    @OptionGroup var model: CheckpointOptions
    @Option(help: "The prompt text.") var prompt: String?
    @Flag(help: "Treat the prompt as a user turn and generate the model's reply (Gemma turn format).")
    var chat = false
    @Option(help: "A JSONL file of prompts to answer (instead of --prompt).") var prompts: String?
    @Option(help: "Where --prompts' replies go (JSONL).") var out: String?
    @Option(parsing: .unconditional, help: "Prompts sampled together with --prompts.") var batch = 8
    @Flag(help: "Replace an existing --out file.") var force = false
    @OptionGroup var sampling: SamplingArguments

    func validate() throws {
        guard (prompt == nil) != (prompts == nil) else { throw ValidationError("give exactly one of --prompt and --prompts") }
        guard (prompts == nil) == (out == nil) else { throw ValidationError("--prompts and --out go together") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
    }

    func run() throws {
        if let prompts, let out { return try answerFile(prompts, out: out) }
        let prompt = self.prompt!
        try reportingErrors {
            let (model, tokenizer) = try self.model.load(expecting: .causalLM)
            let ids: [Int32]
            if chat {
                ids = try ChatTemplate(tokenizer: tokenizer).encode([.user(prompt)], addGenerationPrompt: true).ids
            } else {
                ids = (tokenizer.bosId.map { [$0] } ?? []) + tokenizer.encode(prompt)
            }
            let generator = Generator(model: model, options: sampling.options(vocabularyLimit: tokenizer.vocabularySize), stopTokens: tokenizer.stopTokens)
            var stream = TextStream(tokenizer: tokenizer)
            if !chat { FileHandle.standardOutput.write(Data(prompt.utf8)) }
            try generator.generate(prompt: ids, maxTokens: sampling.maxTokens) { token in
                stream.append(token)
                return true
            }
            print()
        }
    }

    /// Replies to every prompt of `path`, batched, written to `out` atomically.
    func answerFile(_ path: String, out: String) throws {
        try reportingErrors {
            try OutputPath.check(out, kind: .file, force: force, option: "--out")
            let (model, tokenizer) = try self.model.load(expecting: .causalLM)
            let rows = try PromptRow.read(path, template: ChatTemplate(tokenizer: tokenizer))
            let base = sampling.options(vocabularyLimit: tokenizer.vocabularySize)
            var text = ""
            for start in stride(from: 0, to: rows.count, by: batch) {
                let range = start..<min(start + batch, rows.count)
                let replies = try BatchGenerator.generate(model, prompts: range.map { rows[$0].ids },
                                                          options: range.map { base.seeded(by: $0) },
                                                          stopTokens: tokenizer.stopTokens, maxTokens: sampling.maxTokens)
                for (i, reply) in zip(range, replies) {
                    text += jsonObject([("line", .int(rows[i].line)), ("reply", .string(tokenizer.decode(reply)))]) + "\n"
                }
            }
            try AtomicPath.write(out) { try Data(text.utf8).write(to: URL(fileURLWithPath: $0)) }
            printError("wrote \(rows.count) replies to \(out)")
        }
    }
}
