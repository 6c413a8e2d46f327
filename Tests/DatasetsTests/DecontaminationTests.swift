import XCTest
@testable import Datasets

/// `ContaminationIndex`: a training field sharing a 13-word run with an evaluation file matches it (after
/// case and punctuation are folded), a 12-word run does not; every format's text fields are read; the
/// file named is the one holding the n-gram; a bad evaluation row is `file:line`.
final class DecontaminationTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("decontamination-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func file(_ name: String, _ lines: [String]) throws -> String {
        let path = dir.appendingPathComponent(name).path
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func fields(_ texts: String...) -> [[UInt64]] { texts.map { TextNormalization.wordHashes(Array($0.utf8)) } }

    let question = "what is the name of the tallest mountain on the continent of south america by height"

    func testThirteenWordOverlapMatchesAndTwelveDoesNot() throws {
        let eval = try file("eval.jsonl", [#"{"text": "Q: \#(question)? A: Aconcagua."}"#])
        let index = try ContaminationIndex(files: [eval], n: 13)
        let words = question.split(separator: " ")
        let thirteen = words[2..<15].joined(separator: " "), twelve = words[2..<14].joined(separator: " ")
        XCTAssertEqual(index.match(fields("Some prefix words, then \(thirteen) and more.")), 0)
        XCTAssertNil(index.match(fields("Some prefix words, then \(twelve) and more.")))
        // Case and punctuation do not hide an overlap.
        XCTAssertEqual(index.match(fields(thirteen.uppercased().replacingOccurrences(of: " ", with: ", "))), 0)
        // An n-gram is not assembled across two fields.
        XCTAssertNil(index.match(fields(words[2..<8].joined(separator: " "), words[8..<15].joined(separator: " "))))
        XCTAssertEqual(index.match(fields("unrelated", thirteen)), 0)
        // With a smaller n the 12-word run is found.
        XCTAssertEqual(try ContaminationIndex(files: [eval], n: 12).match(fields(twelve)), 0)
    }

    func testEveryFormatIsReadAndTheFileHoldingTheNGramIsNamed() throws {
        let chat = try file("chat.jsonl", [#"{"messages": [{"role": "user", "content": "hello"}, {"role": "model", "content": "alpha beta gamma delta epsilon"}]}"#])
        let preference = try file("pref.jsonl", [
            #"{"prompt": [{"role": "user", "content": "one two three four five"}], "chosen": "six seven eight nine ten", "rejected": "red green blue cyan pink"}"#,
            #"{"prompt": "a plain prompt string here", "chosen": "x", "rejected": "y"}"#,
        ])
        let index = try ContaminationIndex(files: [chat, preference], n: 5)
        XCTAssertEqual(index.match(fields("say Alpha beta gamma delta epsilon!")), 0)
        XCTAssertEqual(index.match(fields("one two three four five")), 1)
        XCTAssertEqual(index.match(fields("six seven eight nine ten")), 1)
        XCTAssertEqual(index.match(fields("red green blue cyan pink")), 1)
        XCTAssertEqual(index.match(fields("a plain prompt string here")), 1)
        XCTAssertNil(index.match(fields("hello there general kenobi you")))
    }

    func testABadEvaluationRowIsNamedByFileAndLine() throws {
        let bad = try file("bad.jsonl", [#"{"text": "fine"}"#, "", #"{"text": 3}"#])
        XCTAssertThrowsError(try ContaminationIndex(files: [bad], n: 13)) { error in
            XCTAssertEqual("\(error)", "\(bad):3: \"text\" must be a string")
        }
        let broken = try file("broken.jsonl", [#"{"text": "fine"#])
        XCTAssertThrowsError(try ContaminationIndex(files: [broken], n: 13)) { error in
            XCTAssertEqual("\(error)", "\(broken):1: not valid JSON: unterminated string at column 15")
        }
    }
}
