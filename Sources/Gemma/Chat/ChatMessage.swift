/// One message of a dialogue, as a row of a chat JSONL file writes it:
/// `{"role": "user" | "model" | "assistant" | "system", "content": "..."}`.
public struct ChatMessage: Codable, Hashable, Sendable {
    public enum Role: String, Codable, Hashable, Sendable, CaseIterable {
        case user
        /// Gemma's name for the assistant.
        case model
        /// Hugging Face's name for the model; rendered as `model`.
        case assistant
        /// Not part of Gemma's format: an error, or folded into the first user turn (`ChatTemplate.SystemMessages`).
        case system

        /// True for `model` and `assistant`.
        public var isModel: Bool { self == .model || self == .assistant }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            let raw = try container.decode(String.self)
            guard let role = Role(rawValue: raw) else {
                throw DecodingError.dataCorruptedError(
                    in: container,
                    debugDescription: "unknown role \"\(raw)\"; expected user, model, assistant or system")
            }
            self = role
        }
    }

    public var role: Role
    public var content: String

    public init(role: Role, content: String) {
        self.role = role
        self.content = content
    }

    public static func user(_ content: String) -> ChatMessage { ChatMessage(role: .user, content: content) }
    public static func model(_ content: String) -> ChatMessage { ChatMessage(role: .model, content: content) }
    public static func system(_ content: String) -> ChatMessage { ChatMessage(role: .system, content: content) }
}

/// A row of a chat JSONL file: `{"messages": [...]}` (other keys are ignored).
public struct ChatDialogue: Codable, Hashable, Sendable {
    public var messages: [ChatMessage]

    public init(messages: [ChatMessage]) {
        self.messages = messages
    }
}
