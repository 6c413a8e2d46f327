import Foundation
import Gemma

/// A tokenized sequence and, per position, the token the model should predict there (-100: none).
public struct Example: Sendable {
    public var ids: [Int32]
    public var targets: [Int32]
    public init(ids: [Int32], targets: [Int32]) {
        self.ids = ids
        self.targets = targets
    }

    /// Number of targets that count (not -100).
    public var count: Int { targets.reduce(0) { $0 + ($1 == -100 ? 0 : 1) } }
}

/// The rows of `eval loss` (DESIGN.md): text rows are `<bos> tokens <eos>` with every token after `<bos>`
/// predicted; chat rows use the turn format and predict the model-turn tokens only.
public enum EvaluationRows {
    /// The text of each row: a `.jsonl` file's `{"text": ...}` objects, or a plain file's non-blank lines.
    public static func texts(from path: String) throws -> [(line: Int, text: String)] {
        if path.hasSuffix(".jsonl") || path.hasSuffix(".json") {
            struct Row: Decodable { let text: String }
            return try JSONLines.read(Row.self, from: path).map { ($0.line, $0.value.text) }
        }
        return try JSONLines.texts(of: path, skipBadRows: false).rows
    }

    /// `<bos> encode(text) <eos>`, each position predicting the next token.
    public static func textExample(_ text: String, tokenizer: SentencePieceTokenizer) throws -> Example {
        guard let bos = tokenizer.bosId, let eos = tokenizer.eosId else {
            throw DataError(file: tokenizer.source, line: nil, message: "the tokenizer has no <bos> or <eos> piece")
        }
        let ids = [bos] + tokenizer.encode(text) + [eos]
        return Example(ids: ids, targets: Array(ids.dropFirst()) + [-100])
    }

    /// Dialogues of a JSONL file of `{"messages": [...]}` rows, encoded with the turn format; each
    /// position predicts the next token when that token is in the loss mask.
    public static func chatExamples(from path: String, template: ChatTemplate) throws -> [(line: Int, example: Example)] {
        try JSONLines.read(ChatDialogue.self, from: path, skipBadRows: false) { line, dialogue in
            (line, try TrainingData.dialogueExample(dialogue.messages, template: template, file: path, line: line))
        }.rows
    }
}
