import Foundation
import Gemma
import XCTest
@testable import Datasets

/// `PreferenceBatch` layout written out by hand (chosen sequences first, then rejected, right-padded to the
/// longest; `lastTokens[i] = i·time + len − 1`) and `TrainingData.preferences` on a temporary JSONL file.
final class PreferenceBatchTests: XCTestCase {
    func testChosenThenRejectedPaddedToTheLongest() {
        let pairs = [
            PreferencePair(chosen: [1, 2, 3], rejected: [4, 5]),
            PreferencePair(chosen: [6], rejected: [7, 8, 9, 10]),
        ]
        let batch = PreferenceBatch(pairs, padId: 0)
        XCTAssertEqual(batch.pairs, 2)
        XCTAssertEqual(batch.time, 4)
        XCTAssertEqual(batch.ids, [
            1, 2, 3, 0,  // chosen 0
            6, 0, 0, 0,  // chosen 1
            4, 5, 0, 0,  // rejected 0
            7, 8, 9, 10,  // rejected 1
        ])
        // i·time + len − 1 with time 4: 0·4+2, 1·4+0, 2·4+1, 3·4+3.
        XCTAssertEqual(batch.lastTokens, [2, 4, 9, 15])
    }

    func testLongestMayBeAChosenSequence() {
        let batch = PreferenceBatch([PreferencePair(chosen: [1, 2, 3, 4, 5], rejected: [6])], padId: 9)
        XCTAssertEqual(batch.time, 5)
        XCTAssertEqual(batch.ids, [1, 2, 3, 4, 5, 6, 9, 9, 9, 9])
        XCTAssertEqual(batch.lastTokens, [4, 5])
    }

    func write(_ text: String, _ name: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("prefs-\(getpid())-\(name)")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func testPreferenceRowsEncodeTheWholeDialogue() throws {
        let template = try ChatTemplate(tokenizer: SentencePieceTokenizer(contentsOf: EvaluationRowsTests.tokenizerURL))
        let path = try write("""
            {"prompt": "Hi", "chosen": "Hello there", "rejected": "Go away"}

            {"prompt": [{"role": "user", "content": "Hi"}], "chosen": [{"role": "model", "content": "Yes"}], "rejected": "No"}
            {"prompt": "Hi", "chosen": "x"}
            """, "rows.jsonl")
        XCTAssertThrowsError(try TrainingData.preferences(path, template: template, seqLen: 100, overlong: .truncate,
                                                           skipBadRows: false)) { error in
            XCTAssertEqual("\(error)", "\(path):4: missing key \"rejected\"")
        }
        let (pairs, report) = try TrainingData.preferences(path, template: template, seqLen: 100, overlong: .truncate,
                                                           skipBadRows: true)
        let hi = ChatMessage(role: .user, content: "Hi")
        func ids(_ reply: String) throws -> [Int32] { try template.encode([hi, ChatMessage(role: .model, content: reply)]).ids }
        XCTAssertEqual(pairs.map(\.chosen), [try ids("Hello there"), try ids("Yes")])
        XCTAssertEqual(pairs.map(\.rejected), [try ids("Go away"), try ids("No")])
        XCTAssertEqual(report.examples, 2)
        XCTAssertEqual(report.rows, 2)
        XCTAssertEqual(report.skippedBadRows, 1)
        XCTAssertEqual(report.truncated, 0)
        XCTAssertEqual(report.dropped, 0)
    }

    func testOverlongPairsTruncatedKeepingTheStartOrDropped() throws {
        let template = try ChatTemplate(tokenizer: SentencePieceTokenizer(contentsOf: EvaluationRowsTests.tokenizerURL))
        let hi = ChatMessage(role: .user, content: "Hi")
        let short = try template.encode([hi, ChatMessage(role: .model, content: "Ok")]).ids
        let long = try template.encode([hi, ChatMessage(role: .model, content: "A much longer reply than the other one")]).ids
        XCTAssertLessThan(short.count, long.count)
        let seqLen = short.count  // the short side fits exactly, the long side does not
        let path = try write("""
            {"prompt": "Hi", "chosen": "A much longer reply than the other one", "rejected": "Ok"}
            {"prompt": "Hi", "chosen": "Ok", "rejected": "Ok"}
            """, "long.jsonl")
        let (truncated, report) = try TrainingData.preferences(path, template: template, seqLen: seqLen,
                                                               overlong: .truncate, skipBadRows: false)
        XCTAssertEqual(truncated.map(\.chosen), [Array(long.prefix(seqLen)), short])
        XCTAssertEqual(truncated.map(\.rejected), [short, short])
        XCTAssertEqual([report.examples, report.rows, report.truncated, report.dropped], [2, 2, 1, 0])

        let (kept, dropReport) = try TrainingData.preferences(path, template: template, seqLen: seqLen,
                                                              overlong: .drop, skipBadRows: false)
        XCTAssertEqual(kept.map(\.chosen), [short])
        XCTAssertEqual([dropReport.examples, dropReport.rows, dropReport.truncated, dropReport.dropped], [2, 1, 0, 1])
    }
}
