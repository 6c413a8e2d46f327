import Foundation
import Gemma
import XCTest
@testable import Datasets

final class EvaluationRowsTests: XCTestCase {
    static let tokenizerURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../GemmaTests/Fixtures/tokenizer/demo.model").standardized

    func write(_ text: String, _ name: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("rows-\(getpid())-\(name)")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func testTextRowsPredictEveryTokenAfterBos() throws {
        let tokenizer = try SentencePieceTokenizer(contentsOf: Self.tokenizerURL)
        let example = try EvaluationRows.textExample("The cat.", tokenizer: tokenizer)
        XCTAssertEqual(example.ids.first, tokenizer.bosId)
        XCTAssertEqual(example.ids.last, tokenizer.eosId)
        XCTAssertEqual(Array(example.targets.dropLast()), Array(example.ids.dropFirst()))
        XCTAssertEqual(example.targets.last, -100)
        XCTAssertEqual(example.count, example.ids.count - 1)
        let rows = try EvaluationRows.texts(from: write("a\n\n  \nb c\n", "plain.txt"))
        XCTAssertEqual(rows.map(\.line), [1, 4])
        let json = try EvaluationRows.texts(from: write("{\"text\": \"x\"}\n{\"text\": \"y\"}\n", "rows.jsonl"))
        XCTAssertEqual(json.map(\.text), ["x", "y"])
    }

    func testChatRowsPredictMaskedTokensOnly() throws {
        let template = try ChatTemplate(tokenizer: SentencePieceTokenizer(contentsOf: Self.tokenizerURL))
        let path = try write(#"{"messages": [{"role": "user", "content": "hi"}, {"role": "model", "content": "hello"}]}"# + "\n", "chat.jsonl")
        let (line, example) = try EvaluationRows.chatExamples(from: path, template: template)[0]
        let encoded = try template.encode([.user("hi"), .model("hello")])
        XCTAssertEqual(line, 1)
        for t in 0..<(example.ids.count - 1) {
            XCTAssertEqual(example.targets[t], encoded.mask[t + 1] ? encoded.ids[t + 1] : -100)
        }
        XCTAssertEqual(example.count, encoded.maskedCount)
    }

    func testErrorsNameFileLineAndKey() throws {
        let path = try write("{\"text\": \"ok\"}\n{\"txt\": \"typo\"}\n", "bad.jsonl")
        XCTAssertThrowsError(try EvaluationRows.texts(from: path)) { error in
            XCTAssertEqual("\(error)", "\(path):2: missing key \"text\"")
        }
        let broken = try write("{\"text\": \"ok\"}\n{not json\n", "broken.jsonl")
        XCTAssertThrowsError(try EvaluationRows.texts(from: broken)) { XCTAssertEqual("\($0)", "\(broken):2: not valid JSON") }
    }
}
