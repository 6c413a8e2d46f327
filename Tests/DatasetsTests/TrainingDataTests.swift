import Foundation
import Gemma
import XCTest
@testable import Datasets

/// `TrainingData.text` and `.chat` on temporary files: line endings, byte-order mark, blank lines, bad rows
/// (named or skipped and counted), overlong examples, rows left with nothing to predict, and the report.
/// Expected ids come from the tokenizer and turn format (not under test here) by the documented rules: a text
/// document is `<bos> encode(text) <eos>` predicting every token after `<bos>`; a dialogue predicts each next
/// token that is in the loss mask.
final class TrainingDataTests: XCTestCase {
    var tokenizer: SentencePieceTokenizer!
    var template: ChatTemplate!

    override func setUpWithError() throws {
        tokenizer = try SentencePieceTokenizer(contentsOf: EvaluationRowsTests.tokenizerURL)
        template = try ChatTemplate(tokenizer: tokenizer)
    }
    var pad: Int32 { tokenizer.padId ?? 0 }

    func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("training-data-\(getpid())-\(name)")
        try Data(bytes).write(to: url)
        return url.path
    }

    func write(_ text: String, _ name: String) throws -> String { try write(Array(text.utf8), name) }

    func document(_ text: String) -> [Int32] { [tokenizer.bosId!] + tokenizer.encode(text) + [tokenizer.eosId!] }

    /// One padded row holding `ids` (one document, every token after the first predicted).
    func singleRow(_ ids: [Int32], seqLen: Int) -> PackedRow {
        let n = ids.count, padding = seqLen - n
        return PackedRow(ids: ids + [Int32](repeating: pad, count: padding),
                         targets: Array(ids.dropFirst()) + [Int32](repeating: -100, count: padding + 1),
                         positions: (0..<seqLen).map(Int32.init),
                         documents: [Int32](repeating: 0, count: n) + (n..<seqLen).map { -Int32($0) - 1 })
    }

    static let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
    let documents = ["The cat.", "A dog", "sat here", "last line"]

    func checkTextRows(_ path: String) throws {
        let (rows, report) = try TrainingData.text(path, tokenizer: tokenizer, seqLen: 32, packing: false,
                                                   overlong: .truncate, skipBadRows: false)
        let expected = documents.map(document)
        XCTAssertEqual(rows, expected.map { singleRow($0, seqLen: 32) })
        let tokens = expected.reduce(0) { $0 + $1.count - 1 }
        XCTAssertEqual([report.examples, report.rows, report.tokens], [4, 4, tokens])
        XCTAssertEqual([report.skippedBadRows, report.truncated, report.dropped, report.emptyRows], [0, 0, 0, 0])
        XCTAssertEqual(report.description, "\(path): 4 examples -> 4 rows, \(tokens) predicted tokens")
    }

    func testPlainTextLineEndingsBomAndBlankLines() throws {
        // BOM; CRLF; a blank CRLF line; a lone CR; LF; a line of spaces; a last line without a newline.
        let text = "The cat.\r\n\r\nA dog\rsat here\n  \t\nlast line"
        try checkTextRows(write(Self.bom + Array(text.utf8), "endings.txt"))
    }

    func testJsonlTextLineEndingsBomAndBlankLines() throws {
        let text = #"{"text": "The cat."}"# + "\r\n\r\n" + #"{"text": "A dog"}"# + "\r" + #"{"text": "sat here"}"#
            + "\n \n" + #"{"text": "last line"}"#
        try checkTextRows(write(Self.bom + Array(text.utf8), "endings.jsonl"))
    }

    func testNonUtf8LineIsNamedOrSkippedAndCounted() throws {
        for (name, bad, column) in [("bad.txt", Array("ab".utf8) + [0xFF], 3),
                                    ("bad.jsonl", Array(#"{"text": "a"#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8), 12)] {
            let good = name.hasSuffix(".jsonl") ? [#"{"text": "The cat."}"#, #"{"text": "A dog"}"#] : ["The cat.", "A dog"]
            let path = try write(Array(good[0].utf8) + [0x0A] + bad + [0x0A] + Array(good[1].utf8), name)
            let expectedByte = name.hasSuffix(".jsonl") ? "C3" : "FF"
            XCTAssertThrowsError(try TrainingData.text(path, tokenizer: tokenizer, seqLen: 32, packing: true,
                                                       overlong: .truncate, skipBadRows: false)) { error in
                XCTAssertEqual("\(error)", "\(path):2: not UTF-8 text (byte 0x\(expectedByte) at column \(column))")
            }
            let (rows, report) = try TrainingData.text(path, tokenizer: tokenizer, seqLen: 32, packing: false,
                                                       overlong: .truncate, skipBadRows: true)
            XCTAssertEqual(rows, [singleRow(document("The cat."), seqLen: 32), singleRow(document("A dog"), seqLen: 32)])
            XCTAssertEqual([report.examples, report.rows, report.skippedBadRows], [2, 2, 1])
            XCTAssertTrue(report.description.hasSuffix(", 1 bad rows skipped"), report.description)
        }
    }

    func testStreamedTextAndARowWithNothingToPredict() throws {
        // A document one token longer than seq_len: the first row predicts seq_len tokens, the second holds
        // only <eos>, which predicts nothing, so it is dropped and counted.
        let ids = document("The cat sat on the mat.")
        let seqLen = ids.count - 1
        let path = try write("The cat sat on the mat.\n", "stream.txt")
        let (rows, report) = try TrainingData.text(path, tokenizer: tokenizer, seqLen: seqLen, packing: true,
                                                   overlong: .truncate, skipBadRows: false)
        XCTAssertEqual(rows, [PackedRow(ids: Array(ids.prefix(seqLen)), targets: Array(ids.dropFirst()),
                                        positions: (0..<seqLen).map(Int32.init),
                                        documents: [Int32](repeating: 0, count: seqLen))])
        XCTAssertEqual([report.examples, report.rows, report.tokens], [1, 1, seqLen])
        XCTAssertEqual([report.truncated, report.dropped, report.emptyRows], [0, 0, 1])
        XCTAssertTrue(report.description.hasSuffix(", 1 rows with no predicted token dropped"), report.description)

        // Two short documents stream into one row, positions restarting and documents 0 then 1.
        let (a, b) = (document("A dog"), document("The cat."))
        let both = try write("A dog\nThe cat.\n", "two.txt")
        let seq = a.count + b.count + 2
        let (packed, packedReport) = try TrainingData.text(both, tokenizer: tokenizer, seqLen: seq, packing: true,
                                                           overlong: .truncate, skipBadRows: false)
        XCTAssertEqual(packed, [PackedRow(
            ids: a + b + [pad, pad],
            targets: Array(a.dropFirst()) + [-100] + Array(b.dropFirst()) + [-100, -100, -100],
            positions: (0..<Int32(a.count)).map { $0 } + (0..<Int32(b.count)).map { $0 } + [Int32(seq - 2), Int32(seq - 1)],
            documents: [Int32](repeating: 0, count: a.count) + [Int32](repeating: 1, count: b.count)
                + [-Int32(seq - 2) - 1, -Int32(seq - 1) - 1])])
        XCTAssertEqual([packedReport.examples, packedReport.rows, packedReport.tokens], [2, 1, a.count + b.count - 2])
    }

    func testOverlongTextTruncatedOrDroppedWithoutPacking() throws {
        let ids = document("The cat sat on the mat.")
        XCTAssertGreaterThan(ids.count, 4)
        let path = try write("The cat sat on the mat.\nA dog\n", "long.txt")
        let short = document("A dog")
        let seqLen = max(4, short.count)
        XCTAssertGreaterThan(ids.count, seqLen)
        let (rows, report) = try TrainingData.text(path, tokenizer: tokenizer, seqLen: seqLen, packing: false,
                                                   overlong: .truncate, skipBadRows: false)
        XCTAssertEqual(rows, [
            PackedRow(ids: Array(ids.prefix(seqLen)), targets: Array(ids[1...seqLen]),
                      positions: (0..<seqLen).map(Int32.init), documents: [Int32](repeating: 0, count: seqLen)),
            singleRow(short, seqLen: seqLen),
        ])
        XCTAssertEqual([report.examples, report.rows, report.tokens, report.truncated, report.dropped],
                       [2, 2, seqLen + short.count - 1, 1, 0])
        let (kept, dropReport) = try TrainingData.text(path, tokenizer: tokenizer, seqLen: seqLen, packing: false,
                                                       overlong: .drop, skipBadRows: false)
        XCTAssertEqual(kept, [singleRow(short, seqLen: seqLen)])
        XCTAssertEqual([dropReport.examples, dropReport.rows, dropReport.truncated, dropReport.dropped], [2, 1, 0, 1])
        XCTAssertTrue(dropReport.description.hasSuffix(", 1 dropped"), dropReport.description)
    }

    // MARK: - Chat

    /// `(ids, targets)` of a dialogue: position t predicts ids[t+1] when that token is in the loss mask.
    func dialogue(_ messages: [ChatMessage]) throws -> (ids: [Int32], targets: [Int32]) {
        let encoded = try template.encode(messages)
        let n = encoded.ids.count
        return (encoded.ids, (0..<n).map { t in t + 1 < n && encoded.mask[t + 1] ? encoded.ids[t + 1] : -100 })
    }

    static let first = [ChatMessage(role: .user, content: "Hi"), ChatMessage(role: .model, content: "Hello")]
    static let second = [ChatMessage(role: .user, content: "Name a pet"), ChatMessage(role: .model, content: "A cat")]
    static let chatFile = #"{"messages": [{"role": "user", "content": "Hi"}, {"role": "model", "content": "Hello"}]}"#
        + "\r\n" + #"{"messages": [{"role": "user", "content": "Only a question"}]}"# + "\n\n"
        + #"{"messages": [{"role": "user", "content": "Name a pet"}, {"role": "assistant", "content": "A cat"}]}"#

    func testChatWithoutAModelTurnIsNamedOrSkipped() throws {
        let path = try write(Self.chatFile, "chat.jsonl")
        XCTAssertThrowsError(try TrainingData.chat(path, template: template, seqLen: 64, packing: true,
                                                   overlong: .truncate, skipBadRows: false)) { error in
            XCTAssertEqual("\(error)", "\(path):2: no model turn: the dialogue has no token to learn from")
        }
        let (a, b) = (try dialogue(Self.first), try dialogue(Self.second))
        let seqLen = a.ids.count + b.ids.count + 3
        let (rows, report) = try TrainingData.chat(path, template: template, seqLen: seqLen, packing: true,
                                                   overlong: .truncate, skipBadRows: true)
        // Packed whole into one row: positions restart, documents 0 and 1, three padding tokens.
        let padStart = a.ids.count + b.ids.count
        XCTAssertEqual(rows, [PackedRow(
            ids: a.ids + b.ids + [pad, pad, pad],
            targets: a.targets + b.targets + [-100, -100, -100],
            positions: (0..<a.ids.count).map(Int32.init) + (0..<b.ids.count).map(Int32.init)
                + (padStart..<seqLen).map(Int32.init),
            documents: [Int32](repeating: 0, count: a.ids.count) + [Int32](repeating: 1, count: b.ids.count)
                + (padStart..<seqLen).map { -Int32($0) - 1 })])
        let tokens = (a.targets + b.targets).filter { $0 != -100 }.count
        XCTAssertGreaterThan(tokens, 0)
        XCTAssertEqual([report.examples, report.rows, report.tokens, report.skippedBadRows], [2, 1, tokens, 1])
        XCTAssertEqual([report.truncated, report.dropped, report.emptyRows], [0, 0, 0])

        // Packing starts a new row when the next dialogue does not fit; without packing one per row.
        for packing in [true, false] {
            let (separate, _) = try TrainingData.chat(path, template: template, seqLen: seqLen - 4, packing: packing,
                                                      overlong: .truncate, skipBadRows: true)
            XCTAssertEqual(separate.map { Array($0.ids.prefix(while: { $0 != pad })) }, [a.ids, b.ids])
            XCTAssertEqual(separate.map(\.tokenCount), [a.targets, b.targets].map { $0.filter { $0 != -100 }.count })
        }
    }

    func testChatTruncatedBeforeTheModelTurnLeavesAnEmptyRowThatIsDropped() throws {
        let messages = [ChatMessage(role: .user, content: "Tell me something about the cat on the mat"),
                        ChatMessage(role: .model, content: "It sat")]
        let d = try dialogue(messages)
        let firstPredicted = d.targets.firstIndex { $0 != -100 }!
        XCTAssertGreaterThan(firstPredicted, 1)
        let path = try write(#"{"messages": [{"role": "user", "content": "Tell me something about the cat on the mat"}, "#
                             + #"{"role": "model", "content": "It sat"}]}"# + "\n" + Self.chatFile, "cut.jsonl")
        // Keep exactly the tokens before the first predicted one: the first dialogue's row predicts nothing.
        let seqLen = firstPredicted
        let (rows, report) = try TrainingData.chat(path, template: template, seqLen: seqLen, packing: false,
                                                   overlong: .truncate, skipBadRows: true)
        // Each kept dialogue truncated to seq_len (keeping the start); rows predicting nothing are dropped.
        let kept = [d, try dialogue(Self.first), try dialogue(Self.second)]
        let expected = kept.map { singleChatRow($0, seqLen: seqLen) }
        XCTAssertEqual(expected[0].tokenCount, 0)
        XCTAssertEqual(rows, expected.filter { $0.tokenCount > 0 })
        XCTAssertEqual(report.examples, 3)
        XCTAssertEqual(report.skippedBadRows, 1)
        XCTAssertEqual(report.emptyRows, expected.filter { $0.tokenCount == 0 }.count)
        XCTAssertEqual(report.rows, expected.filter { $0.tokenCount > 0 }.count)
        XCTAssertEqual(report.tokens, expected.reduce(0) { $0 + $1.tokenCount })
        XCTAssertEqual(report.truncated, kept.filter { $0.ids.count > seqLen }.count)
        XCTAssertGreaterThanOrEqual(report.truncated, 1)
    }

    /// A dialogue alone in a row of `seqLen`, truncated to it or padded.
    func singleChatRow(_ d: (ids: [Int32], targets: [Int32]), seqLen: Int) -> PackedRow {
        let n = min(d.ids.count, seqLen)
        return PackedRow(ids: Array(d.ids.prefix(n)) + [Int32](repeating: pad, count: seqLen - n),
                         targets: Array(d.targets.prefix(n)) + [Int32](repeating: -100, count: seqLen - n),
                         positions: (0..<seqLen).map(Int32.init),
                         documents: [Int32](repeating: 0, count: n) + (n..<seqLen).map { -Int32($0) - 1 })
    }
}
