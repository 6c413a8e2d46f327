import Gemma

/// A multiple-choice question as lm-evaluation-harness scores HellaSwag, ARC, PIQA or MMLU by
/// log-likelihood: `{"context": str, "choices": [str], "answer": int}`, or `{"messages": [...], "choices",
/// "answer"}` for an instruction-tuned model (the dialogue rendered in the turn format through
/// `<start_of_turn>model\n`, each choice tokenized on its own as the model's reply).
public struct ChoiceRow: Decodable, Sendable {
    public enum Context: Sendable {
        case text(String)
        case messages([ChatMessage])
    }

    public let context: Context
    public let choices: [String]
    /// The index of the right choice.
    public let answer: Int

    enum CodingKeys: String, CodingKey { case context, messages, choices, answer }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let messages = try c.decodeIfPresent([ChatMessage].self, forKey: .messages) {
            context = .messages(messages)
        } else {
            context = .text(try c.decode(String.self, forKey: .context))
        }
        choices = try c.decode([String].self, forKey: .choices)
        answer = try c.decode(Int.self, forKey: .answer)
    }

    /// One example per choice: the context's tokens then the choice's, only the choice's predicted.
    ///
    /// A text context is split as the harness's `_encode_pair` splits it with target delimiter " ": the
    /// continuation is `" " + choice` (with any trailing whitespace of the context moved into it), the
    /// choice's tokens are those of `<bos> encode(context + continuation)` past the tokens of `<bos>
    /// encode(context)`. A context that would leave fewer than `maxLength` tokens is cut from the left
    /// after `<bos>` (the choice is kept whole); `truncated` says whether it was.
    /// - Throws: a message for no choices, an empty choice or an answer out of range.
    public func examples(template: ChatTemplate, maxLength: Int) throws -> (examples: [Example], truncated: Bool) {
        guard !choices.isEmpty else { throw ChoiceError("\"choices\" is empty") }
        guard choices.indices.contains(answer) else {
            throw ChoiceError("\"answer\" \(answer) is not an index of the \(choices.count) choices")
        }
        let tokenizer = template.tokenizer
        var truncated = false
        let examples = try choices.enumerated().map { k, choice -> Example in
            guard !choice.isEmpty else { throw ChoiceError("choice \(k) is empty") }
            var (context, continuation): ([Int32], [Int32])
            switch self.context {
            case .text(let text):
                let kept = text.trimmingTrailingWhitespace
                let spaces = String(String.UnicodeScalarView(text.unicodeScalars.dropFirst(kept.unicodeScalars.count)))
                let whole = [template.bosId] + tokenizer.encode(kept + spaces + " " + choice)
                let n = 1 + tokenizer.encode(kept).count
                (context, continuation) = (Array(whole.prefix(n)), Array(whole.dropFirst(n)))
            case .messages(let messages):
                context = try template.encode(messages, addGenerationPrompt: true).ids
                continuation = tokenizer.encode(choice)
            }
            guard !continuation.isEmpty, continuation.count < maxLength else {
                throw ChoiceError("choice \(k) has \(continuation.count) tokens; the context holds \(maxLength)")
            }
            if context.count + continuation.count > maxLength {
                context = [context[0]] + context.suffix(maxLength - continuation.count - 1)
                truncated = true
            }
            return CompletionPair.example(prompt: context, completion: continuation)
        }
        return (examples, truncated)
    }

    /// A row that cannot be scored.
    public struct ChoiceError: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }
}

extension String {
    /// The string without trailing whitespace (Python's `rstrip()` on the harness's contexts).
    var trimmingTrailingWhitespace: String {
        var scalars = unicodeScalars[...]
        while let last = scalars.last, ChatTemplate.isPythonSpace(last) { scalars = scalars.dropLast() }
        return String(String.UnicodeScalarView(scalars))
    }
}
