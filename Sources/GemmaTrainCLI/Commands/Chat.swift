import ArgumentParser
import Foundation
import Gemma

/// `gemma-train chat`: an interactive, multi-turn conversation in Gemma's turn format. The KV cache keeps
/// the conversation, so each turn feeds only its new tokens.
struct Chat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Chat with a model interactively (empty line or Ctrl-D ends; /reset starts over).")

    @OptionGroup var model: CheckpointOptions
    @OptionGroup var sampling: SamplingArguments

    func run() throws {
        try reportingErrors {
            let (model, tokenizer) = try self.model.load(expecting: .causalLM)
            let template = try ChatTemplate(tokenizer: tokenizer)
            let generator = Generator(model: model, options: sampling.options(vocabularyLimit: tokenizer.vocabularySize), stopTokens: tokenizer.stopTokens)
            let interactive = isatty(STDIN_FILENO) != 0
            while true {
                if interactive { FileHandle.standardOutput.write(Data("> ".utf8)) }
                guard let line = readLine(), !line.trimmingCharacters(in: .whitespaces).isEmpty else { break }
                if line == "/reset" {
                    generator.cache.reset()
                    continue
                }
                let ids: [Int32]
                if generator.cache.length == 0 {
                    ids = try template.encode([.user(line)], addGenerationPrompt: true).ids
                } else {
                    ids = template.continuation(userText: line, previousReplyClosed: generator.lastToken == template.endOfTurnId)
                }
                var stream = TextStream(tokenizer: tokenizer)
                try generator.generate(prompt: ids, maxTokens: sampling.maxTokens) { token in
                    stream.append(token)
                    return true
                }
                print()
            }
        }
    }
}
