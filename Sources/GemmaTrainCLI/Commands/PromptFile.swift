import Datasets
import Foundation
import Gemma

/// A JSONL file of prompts: rows with `"prompt"`, a string (one user turn) or a list of messages ending
/// with a user turn (the preference files' rows work as they are).
struct PromptRow: Decodable {
    let prompt: [ChatMessage]
    enum CodingKeys: String, CodingKey { case prompt }
    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let text = try? c.decode(String.self, forKey: .prompt) { prompt = [.user(text)] } else {
            prompt = try c.decode([ChatMessage].self, forKey: .prompt)
        }
    }

    /// The rows of `path` (the first `limit`) and each prompt's ids in the turn format through
    /// `<start_of_turn>model\n`; errors name the file and line.
    static func read(_ path: String, limit: Int? = nil, template: ChatTemplate) throws -> [(line: Int, row: PromptRow, ids: [Int32])] {
        var rows = try JSONLines.read(PromptRow.self, from: path)
        if let limit { rows = Array(rows.prefix(limit)) }
        guard !rows.isEmpty else { throw DataError(file: path, line: nil, message: "no prompts") }
        return try rows.map { row in
            do { return (row.line, row.value, try template.encode(row.value.prompt, addGenerationPrompt: true).ids) } catch {
                throw DataError(file: path, line: row.line, message: "\(error)")
            }
        }
    }

    /// Prompt `index`'s sampling options: its seed a function of `seed` and `index` only, so a reply does not
    /// depend on the batch it is drawn in or on the model it is compared with.
    static func options(_ base: SamplingOptions, index: Int) -> SamplingOptions {
        var options = base
        options.seed = base.seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15
        return options
    }
}
