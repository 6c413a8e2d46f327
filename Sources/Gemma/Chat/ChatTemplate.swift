/// Gemma's turn format (GEMMA.md "Turn format"): renders a dialogue, tokenizes it and marks the tokens the SFT loss
/// is taken on.
///
/// A dialogue renders as (each `\n` a newline; `<bos>` is prepended as an id, not as text)
/// ```
/// <bos><start_of_turn>user\n{user text, trimmed}<end_of_turn>\n
/// <start_of_turn>model\n{reply, trimmed}<end_of_turn>\n...
/// ```
/// (one line, broken here for width)
/// exactly as Hugging Face's Gemma chat template (trimming is Jinja's `trim`, i.e. Python's `str.strip()`). The
/// rendered text is tokenized as one string, so `<start_of_turn>` and `<end_of_turn>` (user-defined pieces) are
/// matched first; note that the same text typed inside a message is matched too, as in Hugging Face.
///
/// The loss mask is TRL's assistant-only loss with TRL's Gemma training template: each model turn's span is
/// `{reply, trimmed}<end_of_turn>\n`, and a token is masked when its text overlaps a span (so a token straddling
/// the `model\n` header and the reply, such as `"\n-"`, is masked). `<bos>`, user turns and the
/// `<start_of_turn>model\n` header are not masked.
public struct ChatTemplate: Sendable {
    /// What to do with a leading `system` message, which Gemma's format does not have.
    public enum SystemMessages: Sendable {
        /// Throw `ChatTemplateError` (Gemma's chat template raises "System role not supported").
        case reject
        /// Prepend its content, untrimmed, and `"\n\n"` to the first user turn's trimmed text, as the Gemma 3 chat
        /// template does.
        case foldIntoFirstUserTurn
    }

    public let tokenizer: SentencePieceTokenizer
    public var systemMessages: SystemMessages
    public let bosId: Int32
    public let startOfTurnId: Int32
    public let endOfTurnId: Int32

    public static let startOfTurn = "<start_of_turn>"
    public static let endOfTurn = "<end_of_turn>"

    /// - Throws: `ChatTemplateError` if the tokenizer has no `<bos>` control piece, or no user-defined
    ///   `<start_of_turn>` / `<end_of_turn>` pieces.
    public init(tokenizer: SentencePieceTokenizer, systemMessages: SystemMessages = .reject) throws {
        guard let bos = tokenizer.bosId else {
            throw ChatTemplateError(.tokenizer("\(tokenizer.source) has no beginning-of-sequence control piece"))
        }
        func turnPiece(_ piece: String) throws -> Int32 {
            guard let id = tokenizer.id(of: piece), tokenizer.pieceType(of: id) == .userDefined else {
                throw ChatTemplateError(
                    .tokenizer("\(tokenizer.source) has no user-defined piece \(piece), so it cannot encode Gemma's "
                        + "turn format (train it with user_defined_symbols including \(piece))"))
            }
            return id
        }
        self.tokenizer = tokenizer
        self.systemMessages = systemMessages
        self.bosId = bos
        self.startOfTurnId = try turnPiece(Self.startOfTurn)
        self.endOfTurnId = try turnPiece(Self.endOfTurn)
    }

    /// Renders `messages` as text (without `<bos>`).
    /// - Parameters:
    ///   - addGenerationPrompt: end with `<start_of_turn>model\n`, the prompt for the model's next reply.
    ///   - line: the dialogue's line (or row) number, quoted in errors.
    /// - Throws: `ChatTemplateError` for an empty dialogue, a system message (unless folded), or roles that do not
    ///   alternate user, model, user, ... starting with user.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool = false, line: Int? = nil) throws
        -> RenderedDialogue
    {
        func fail(_ reason: ChatTemplateError.Reason) -> ChatTemplateError { ChatTemplateError(reason, line: line) }
        var turns = messages[...]
        var systemPrefix = ""
        if let first = turns.first, first.role == .system {
            guard systemMessages == .foldIntoFirstUserTurn else { throw fail(.systemMessage(index: 0)) }
            systemPrefix = first.content + "\n\n"
            turns = turns.dropFirst()
        }
        guard !turns.isEmpty else { throw fail(.emptyDialogue(onlySystem: !messages.isEmpty)) }

        var text = ""
        var length = 0  // text.utf8.count
        var spans: [Range<Int>] = []
        func append(_ s: String) {
            text += s
            length += s.utf8.count
        }
        for (k, (index, message)) in zip(turns.indices, turns).enumerated() {
            if message.role == .system {
                throw fail(
                    systemMessages == .reject ? .systemMessage(index: index) : .misplacedSystemMessage(index: index))
            }
            guard (message.role == .user) == (k % 2 == 0) else {
                throw fail(.roleOrder(index: index, role: message.role, expected: k % 2 == 0 ? .user : .model))
            }
            if message.role == .user {
                append(Self.startOfTurn + "user\n" + (k == 0 ? systemPrefix : "") + Self.trim(message.content)
                    + Self.endOfTurn + "\n")
            } else {
                append(Self.startOfTurn + "model\n")
                let start = length
                append(Self.trim(message.content) + Self.endOfTurn + "\n")
                spans.append(start..<length)
            }
        }
        if addGenerationPrompt { append(Self.startOfTurn + "model\n") }
        return RenderedDialogue(text: text, modelSpans: spans)
    }

    /// Renders and tokenizes `messages`: `<bos>` then the ids of the rendered text, and the SFT loss mask.
    /// - Parameters and throws: as `render`.
    public func encode(_ messages: [ChatMessage], addGenerationPrompt: Bool = false, line: Int? = nil) throws
        -> EncodedDialogue
    {
        let rendered = try render(messages, addGenerationPrompt: addGenerationPrompt, line: line)
        let (ids, ranges) = tokenizer.encodeWithOffsets(rendered.text)
        var mask = [Bool](repeating: false, count: ids.count + 1)
        // Spans and token ranges are both in text order: one pass. A token is masked if it overlaps a span.
        var span = 0
        let spans = rendered.modelSpans
        for (k, range) in ranges.enumerated() {
            while span < spans.count && range.lowerBound >= spans[span].upperBound { span += 1 }
            if span == spans.count { break }
            if range.upperBound > spans[span].lowerBound { mask[k + 1] = true }
        }
        return EncodedDialogue(ids: [bosId] + ids, mask: mask)
    }

    /// `s` without leading and trailing whitespace, as Python's `str.strip()` (Jinja's `trim`): Unicode scalars
    /// that Python's `str.isspace()` accepts, which adds U+001C...U+001F to Unicode's White_Space.
    public static func trim(_ s: String) -> String {
        let scalars = s.unicodeScalars
        guard let first = scalars.firstIndex(where: { !isPythonSpace($0) }) else { return "" }
        let last = scalars.lastIndex(where: { !isPythonSpace($0) })!
        return String(scalars[first...last])
    }

    /// Whether Python's `str.isspace()` accepts `c` (what `strip` and `rstrip` remove).
    public static func isPythonSpace(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }
}

/// A dialogue rendered in the turn format.
public struct RenderedDialogue: Equatable, Sendable {
    /// The text, without `<bos>` (which is prepended as an id).
    public var text: String
    /// UTF-8 byte ranges of `text` that the loss is taken on: each model reply (trimmed) plus `<end_of_turn>\n`.
    public var modelSpans: [Range<Int>]
}

/// A tokenized dialogue: `ids[0]` is `<bos>`; `mask[i]` says whether the loss is taken on predicting `ids[i]`.
public struct EncodedDialogue: Equatable, Sendable {
    public var ids: [Int32]
    public var mask: [Bool]

    /// The number of masked (trained-on) tokens.
    public var maskedCount: Int { mask.reduce(0) { $0 + ($1 ? 1 : 0) } }
}

/// Why a dialogue cannot be rendered; `description` is a message for the user, with the line number if known.
public struct ChatTemplateError: Error, Equatable, CustomStringConvertible {
    public enum Reason: Equatable, Sendable {
        /// No messages (or only a system message).
        case emptyDialogue(onlySystem: Bool)
        /// A system message (at 0-based `index`) while `SystemMessages.reject`.
        case systemMessage(index: Int)
        /// A system message after the first message while folding system messages.
        case misplacedSystemMessage(index: Int)
        /// The message at 0-based `index` breaks the alternation user, model, user, ... starting with user.
        case roleOrder(index: Int, role: ChatMessage.Role, expected: ChatMessage.Role)
        /// The tokenizer cannot encode the turn format.
        case tokenizer(String)
    }

    public var reason: Reason
    /// The line (or row) number the caller passed, if any.
    public var line: Int?

    public init(_ reason: Reason, line: Int? = nil) {
        self.reason = reason
        self.line = line
    }

    public var description: String {
        let message: String
        switch reason {
        case .emptyDialogue(let onlySystem):
            message = onlySystem
                ? "the dialogue has only a system message; it needs at least one user message"
                : "the dialogue has no messages"
        case .systemMessage(let index):
            message = "message \(index + 1) has role \"system\", which Gemma's turn format does not have: remove it, "
                + "or fold it into the first user turn (ChatTemplate.SystemMessages.foldIntoFirstUserTurn, "
                + "--fold-system)"
        case .misplacedSystemMessage(let index):
            message = "message \(index + 1) has role \"system\"; only the first message may be a system message"
        case .roleOrder(let index, let role, let expected):
            let wanted = expected == .user ? "user" : "model (or assistant)"
            message = "message \(index + 1) has role \"\(role.rawValue)\" but \(wanted) was expected: roles must "
                + "alternate user, model, user, ... starting with user"
        case .tokenizer(let text):
            message = text
        }
        return line.map { "line \($0): \(message)" } ?? message
    }
}
