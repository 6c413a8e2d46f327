import Foundation
import Gemma

/// How a data file was turned into rows.
public struct DataReport: Sendable, CustomStringConvertible {
    public var file: String
    public var examples = 0, rows = 0, tokens = 0
    public var skippedBadRows = 0, truncated = 0, dropped = 0
    /// Rows dropped because nothing in them is predicted (their targets were truncated away).
    public var emptyRows = 0
    /// Preference pairs skipped because chosen and rejected are the same (DPO).
    public var identicalPairs = 0

    public var description: String {
        "\(file): \(examples) examples -> \(rows) rows" + (tokens > 0 ? ", \(tokens) predicted tokens" : "")
            + (skippedBadRows > 0 ? ", \(skippedBadRows) bad rows skipped" : "")
            + (truncated > 0 ? ", \(truncated) truncated" : "") + (dropped > 0 ? ", \(dropped) dropped" : "")
            + (emptyRows > 0 ? ", \(emptyRows) rows with no predicted token dropped" : "")
            + (identicalPairs > 0 ? ", \(identicalPairs) pairs with chosen = rejected skipped" : "")
    }
}

/// Loads the training formats of DESIGN.md into rows of `seq_len` tokens.
public enum TrainingData {
    /// Pretraining text (`.txt`: one document per non-blank line; `.jsonl`: `{"text": ...}` per line). Each
    /// document is `<bos> tokens <eos>`, every token after `<bos>` predicted; documents are streamed into
    /// rows (`packing`) or one per row.
    public static func text(_ path: String, tokenizer: SentencePieceTokenizer, seqLen: Int, packing: Bool,
                            overlong: Packer.Overlong, skipBadRows: Bool) throws -> (rows: [PackedRow], report: DataReport) {
        var report = DataReport(file: path)
        let texts: [String]
        if path.hasSuffix(".jsonl") {
            struct Row: Decodable { let text: String }
            let read = try JSONLines.read(Row.self, from: path, skipBadRows: skipBadRows) { $1.text }
            texts = read.rows
            report.skippedBadRows = read.skipped
        } else {
            let read = try JSONLines.texts(of: path, skipBadRows: skipBadRows)
            texts = read.rows.map(\.text)
            report.skippedBadRows = read.skipped
        }
        let examples = try texts.map { try EvaluationRows.textExample($0, tokenizer: tokenizer) }
        return finish(examples, packer: Packer(seqLen: seqLen, padId: tokenizer.padId ?? 0,
                                              mode: packing ? .stream : .single, overlong: overlong), report)
    }

    /// Dialogues (`{"messages": [...]}` per line) in Gemma's turn format; only model-turn tokens are
    /// predicted. Whole dialogues are packed into rows (`packing`) or one per row.
    public static func chat(_ path: String, template: ChatTemplate, seqLen: Int, packing: Bool,
                            overlong: Packer.Overlong, skipBadRows: Bool) throws -> (rows: [PackedRow], report: DataReport) {
        var report = DataReport(file: path)
        let read = try JSONLines.read(ChatDialogue.self, from: path, skipBadRows: skipBadRows) { line, dialogue in
            try dialogueExample(dialogue.messages, template: template, file: path, line: line)
        }
        report.skippedBadRows = read.skipped
        return finish(read.rows, packer: Packer(seqLen: seqLen, padId: template.tokenizer.padId ?? 0,
                                               mode: packing ? .pack : .single, overlong: overlong), report)
    }

    /// Packs `examples` into rows; rows left with no predicted token (a truncation cut every target
    /// away) are dropped and counted, so that no step trains on nothing.
    static func finish(_ examples: [Example], packer: Packer, _ report: DataReport) -> (rows: [PackedRow], report: DataReport) {
        var report = report
        let packed = packer.pack(examples)
        let rows = packed.rows.filter { $0.tokenCount > 0 }
        report.examples = examples.count
        report.rows = rows.count
        report.truncated = packed.truncated
        report.dropped = packed.dropped
        report.emptyRows = packed.rows.count - rows.count
        report.tokens = rows.reduce(0) { $0 + $1.tokenCount }
        return (rows, report)
    }

    /// A dialogue encoded with the turn format; each position predicts the next token when it is masked.
    static func dialogueExample(_ messages: [ChatMessage], template: ChatTemplate, file: String, line: Int) throws -> Example {
        let encoded: EncodedDialogue
        do { encoded = try template.encode(messages) } catch {
            throw DataError(file: file, line: line, message: "\(error)")
        }
        let targets = (0..<encoded.ids.count).map { t in
            t + 1 < encoded.ids.count && encoded.mask[t + 1] ? encoded.ids[t + 1] : -100
        }
        guard targets.contains(where: { $0 != -100 }) else {
            throw DataError(file: file, line: line, message: "no model turn: the dialogue has no token to learn from")
        }
        return Example(ids: encoded.ids, targets: targets)
    }
}
