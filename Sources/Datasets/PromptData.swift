import Gemma

/// A JSONL row of prompts: `"prompt"`, a string (one user turn) or a list of messages ending with a user
/// turn (the preference files' rows work as they are; their other keys are ignored).
public struct PromptRow: Decodable, Sendable {
    public let prompt: [ChatMessage]

    enum CodingKeys: String, CodingKey { case prompt }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let text = try? c.decode(String.self, forKey: .prompt) { prompt = [.user(text)] } else {
            prompt = try c.decode([ChatMessage].self, forKey: .prompt)
        }
    }

    /// The prompt's ids in the turn format through `<start_of_turn>model\n` (with `<bos>`).
    /// - Throws: a message when the last turn is not the user's, or the template's error.
    public func encode(_ template: ChatTemplate) throws -> [Int32] {
        guard let last = prompt.last, last.role == .user else {
            throw NotAUserTurn(role: prompt.last?.role)
        }
        return try template.encode(prompt, addGenerationPrompt: true).ids
    }

    /// A prompt that does not end with a user turn: there is nothing for the model to answer.
    public struct NotAUserTurn: Error, CustomStringConvertible {
        public let role: ChatMessage.Role?
        public var description: String {
            "the prompt's last message must be a user turn, not \(role.map { "\"\($0.rawValue)\"" } ?? "nothing")"
        }
    }

    /// The rows of `path` (the first `limit`) and each prompt's ids (``encode(_:)``); errors name the file and line.
    public static func read(_ path: String, limit: Int? = nil, template: ChatTemplate) throws -> [(line: Int, row: PromptRow, ids: [Int32])] {
        var rows = try JSONLines.read(PromptRow.self, from: path)
        if let limit { rows = Array(rows.prefix(limit)) }
        guard !rows.isEmpty else { throw DataError(file: path, line: nil, message: "no prompts") }
        return try rows.map { row in
            do { return (row.line, row.value, try row.value.encode(template)) } catch {
                throw DataError(file: path, line: row.line, message: "\(error)")
            }
        }
    }
}

extension TrainingData {
    /// The prompts of `path` for online RL, as ids through `<start_of_turn>model\n`. A prompt longer
    /// than `maxLength` tokens is cut from the left after `<bos>` (`truncate`; the newest turns are kept)
    /// or dropped; both counted. A row that is not a prompt (or whose last turn is not the user's) is an
    /// error naming the line, or skipped and counted with `skipBadRows`.
    public static func prompts(_ path: String, template: ChatTemplate, maxLength: Int, overlong: Packer.Overlong,
                               skipBadRows: Bool) throws -> (prompts: [[Int32]], report: DataReport) {
        var report = DataReport(file: path)
        let read = try JSONLines.read(PromptRow.self, from: path, skipBadRows: skipBadRows) { line, row -> [Int32]? in
            var ids: [Int32]
            do { ids = try row.encode(template) } catch { throw DataError(file: path, line: line, message: "\(error)") }
            if ids.count > maxLength {
                guard overlong == .truncate, maxLength > 1 else { report.dropped += 1; return nil }
                ids = [ids[0]] + ids.suffix(maxLength - 1)
                report.truncated += 1
            }
            report.tokens += ids.count
            return ids
        }
        let prompts = read.rows.compactMap { $0 }
        report.examples = read.rows.count
        report.rows = prompts.count
        report.skippedBadRows = read.skipped
        return (prompts, report)
    }
}
