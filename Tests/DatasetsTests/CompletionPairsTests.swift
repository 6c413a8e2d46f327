import Foundation
import Gemma
import XCTest
@testable import Datasets

/// DPO's view of preference rows: the prompt through `<start_of_turn>model\n`, each completion the
/// rendered model turn tokenized on its own, overlong prompts cut from the left after `<bos>`.
final class CompletionPairsTests: XCTestCase {
    var tokenizer: SentencePieceTokenizer!
    var template: ChatTemplate!

    override func setUpWithError() throws {
        tokenizer = try SentencePieceTokenizer(contentsOf: EvaluationRowsTests.tokenizerURL)
        template = try ChatTemplate(tokenizer: tokenizer)
    }

    func file(_ lines: [String]) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("pairs-\(getpid())-\(UUID().uuidString).jsonl")
        try lines.joined(separator: "\n").write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func testPromptAndCompletionsFollowTheTurnFormat() throws {
        let path = try file([#"{"prompt": "Capital of France?", "chosen": "Paris.", "rejected": "```Lyon"}"#])
        let (pairs, report) = try TrainingData.completionPairs(path, template: template, seqLen: 512, overlong: .truncate,
                                                                skipBadRows: false)
        XCTAssertEqual(report.rows, 1)
        let pair = try XCTUnwrap(pairs.first)
        // Written out from the turn format of GEMMA.md, tokenized by the tokenizer (not under test).
        XCTAssertEqual(pair.prompt, [tokenizer.bosId!] + tokenizer.encode("<start_of_turn>user\nCapital of France?<end_of_turn>\n<start_of_turn>model\n"))
        XCTAssertEqual(pair.chosen, tokenizer.encode("Paris.<end_of_turn>\n"))
        XCTAssertEqual(pair.rejected, tokenizer.encode("```Lyon<end_of_turn>\n"))
        // The sequence predicts exactly the completion's tokens.
        let example = pair.examples.chosen
        XCTAssertEqual(example.ids, pair.prompt + pair.chosen)
        let predicted = example.targets.filter { $0 != -100 }
        XCTAssertEqual(predicted, pair.chosen)
        XCTAssertEqual(example.targets[pair.prompt.count - 1], pair.chosen[0])
        XCTAssertEqual(example.targets.last, -100)
    }

    func testOverlongPromptsAreCutFromTheLeftOrDropped() throws {
        let long = String(repeating: "many words in a long prompt ", count: 20)
        let path = try file([#"{"prompt": "\#(long)", "chosen": "yes", "rejected": "no"}"#,
                             #"{"prompt": "short", "chosen": "\#(long)", "rejected": "no"}"#])
        let full = try TrainingData.completionPairs(path, template: template, seqLen: 4096, overlong: .truncate, skipBadRows: false).pairs
        let seqLen = 40
        let (cut, report) = try TrainingData.completionPairs(path, template: template, seqLen: seqLen, overlong: .truncate,
                                                             skipBadRows: false)
        XCTAssertEqual(report.truncated, 1)
        XCTAssertEqual(report.dropped, 1, "the second pair's completion alone does not fit")
        let pair = try XCTUnwrap(cut.first)
        XCTAssertEqual(pair.prompt.count + max(pair.chosen.count, pair.rejected.count), seqLen)
        XCTAssertEqual(pair.prompt.first, tokenizer.bosId)
        XCTAssertEqual(Array(pair.prompt.dropFirst()), Array(full[0].prompt.suffix(pair.prompt.count - 1)))
        XCTAssertEqual(pair.chosen, full[0].chosen)
        let dropped = try TrainingData.completionPairs(path, template: template, seqLen: seqLen, overlong: .drop, skipBadRows: false)
        XCTAssertEqual(dropped.pairs.count, 0)
        XCTAssertEqual(dropped.report.dropped, 2)
    }

    func testBatchPutsChosenRowsFirstAndPadsToTheLongest() {
        let pairs = [CompletionPair(prompt: [2, 10], chosen: [11, 12], rejected: [13]),
                     CompletionPair(prompt: [2, 20, 21], chosen: [22], rejected: [23, 24, 25])]
        let b = CompletionBatch.make(pairs, padId: 0)
        XCTAssertEqual(b.rows, 4)
        XCTAssertEqual(b.time, 6)
        XCTAssertEqual(b.ids, [2, 10, 11, 12, 0, 0,  2, 20, 21, 22, 0, 0,  2, 10, 13, 0, 0, 0,  2, 20, 21, 23, 24, 25])
        XCTAssertEqual(b.targets, [-100, 11, 12, -100, -100, -100,  -100, -100, 22, -100, -100, -100,
                                   -100, 13, -100, -100, -100, -100,  -100, -100, 23, 24, 25, -100])
    }
}
