/// The project's JSONL row formats, and where their text sits in a row.
public enum RowFormat: String, CaseIterable, Sendable {
    /// `{"text": str}`
    case text
    /// `{"messages": [{"role": str, "content": str}, ...]}`
    case chat
    /// `{"prompt": str | messages, "chosen": str | messages, "rejected": str | messages}`
    case preference
    /// `{"prompt": str | messages}`: online RL's prompts.
    case prompt

    /// The format a row's keys say: `messages` is chat, `chosen` and `rejected` preference, `text` text,
    /// `prompt` alone prompts.
    public static func detect(_ row: JSONSpans) -> RowFormat? {
        if row["messages"] != nil { return .chat }
        if row["chosen"] != nil && row["rejected"] != nil { return .preference }
        if row["text"] != nil { return .text }
        if row["prompt"] != nil { return .prompt }
        return nil
    }

    /// The error for a row whose keys name no format.
    static func undetectable(_ row: JSONSpans) -> RowFormatError {
        guard case .object(let members) = row else { return RowFormatError("a row must be a JSON object") }
        let keys = members.map { "\"\($0.key)\"" }.joined(separator: ", ")
        return RowFormatError("cannot tell the format from the keys (\(keys)): expected \"text\", \"messages\", \"prompt\" (with \"chosen\" and \"rejected\", or alone)")
    }

    /// The text fields of `row` in order (the string values the format defines: `text`; every message's
    /// `content`; the prompt's, then chosen's, then rejected's), each with its literal's byte range.
    /// - Throws: ``RowFormatError`` naming the key that is missing or of the wrong type.
    public func fields(of row: JSONSpans) throws -> [TextField] {
        guard case .object = row else { throw RowFormatError("a row must be a JSON object") }
        switch self {
        case .text:
            return [try Self.string(row, "text")]
        case .chat:
            guard let messages = row["messages"] else { throw RowFormatError("missing key \"messages\"") }
            return try Self.messages(messages, key: "messages")
        case .preference, .prompt:
            return try (self == .prompt ? ["prompt"] : ["prompt", "chosen", "rejected"]).flatMap { key -> [TextField] in
                guard let value = row[key] else { throw RowFormatError("missing key \"\(key)\"") }
                if case .string(let text, let range) = value { return [TextField(text: text, range: range)] }
                return try Self.messages(value, key: key)
            }
        }
    }

    static func string(_ object: JSONSpans, _ key: String, in path: String = "") throws -> TextField {
        guard let value = object[key] else { throw RowFormatError("missing key \"\(path)\(key)\"") }
        guard case .string(let text, let range) = value else { throw RowFormatError("\"\(path)\(key)\" must be a string") }
        return TextField(text: text, range: range)
    }

    /// The `content` of each message of a list.
    static func messages(_ value: JSONSpans, key: String) throws -> [TextField] {
        guard case .array(let messages) = value else { throw RowFormatError("\"\(key)\" must be a list of messages") }
        return try messages.enumerated().map { index, message in
            guard case .object = message else { throw RowFormatError("\"\(key)[\(index)]\" must be an object") }
            return try string(message, "content", in: "\(key)[\(index)].")
        }
    }
}

/// One string value of a row that holds text: its decoded UTF-8 bytes and where its literal sits in the line.
public struct TextField: Sendable {
    public var text: [UInt8]
    public var range: Range<Int>
}

/// Why a row does not fit its format (the caller adds the file and line).
public struct RowFormatError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
