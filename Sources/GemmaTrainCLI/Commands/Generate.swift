import ArgumentParser
import Foundation
import Gemma

/// `gemma-train generate`: one completion (or one chat reply with `--chat`), streamed to stdout.
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text from a prompt (streamed as it is produced).")

    @OptionGroup var model: CheckpointOptions
    @Option(help: "The prompt text.") var prompt: String
    @Flag(help: "Treat the prompt as a user turn and generate the model's reply (Gemma turn format).")
    var chat = false
    @OptionGroup var sampling: SamplingArguments

    func run() throws {
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
}
