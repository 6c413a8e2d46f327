import Foundation
import XCTest

/// `gemma-train data filter` as a user runs it: each format end to end (only text fields scrubbed, every
/// other byte of a row kept), the report JSON, near duplicates, decontamination naming the evaluation
/// file, PII drop, and one-line refusals (an existing output, `--in` = `--out`, a bad row as `file:line`).
final class DataFilterCommandTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try CommandRunner.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// Writes `lines` (each followed by a newline) to `name` in the test directory.
    func write(_ name: String, _ lines: [String]) throws -> String {
        try (lines.joined(separator: "\n") + "\n").write(toFile: path(name), atomically: true, encoding: .utf8)
        return path(name)
    }

    func filter(_ input: String, _ output: String, _ extra: [String] = []) throws -> CommandRunner.Result {
        try CommandRunner.run(["data", "filter", "--in", input, "--out", output] + extra)
    }

    func lines(_ file: String) throws -> [String] {
        try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    func report(_ file: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as! [String: Any]
    }

    func testTextRowsAreScrubbedDeduplicatedAndReported() throws {
        let input = try write("in.jsonl", [
            #"{"text": "Mail john.doe@example.com or call (555) 123-4567.", "id": 1, "score": 2.50}"#,
            #"{"text": "Release v1.2.3.4 on 2024-01-15, ISBN 978-0-306-40615-7, card 4111 1111 1111 1112."}"#,
            "",
            #"{"text": "mail JOHN.DOE@example.com   or call (555) 123-4567.", "id": 2}"#,
            #"{"id": 3, "text": "Key: \"AKIAIOSFODNN7EXAMPLE\", host 10.0.0.7\nSSN 123-45-6789 \u00e9"}"#,
        ])
        let out = path("out.jsonl"), reportFile = path("report.json")
        let r = try filter(input, out, ["--report", reportFile])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try lines(out), [
            #"{"text": "Mail <EMAIL> or call <PHONE>.", "id": 1, "score": 2.50}"#,
            #"{"text": "Release v1.2.3.4 on 2024-01-15, ISBN 978-0-306-40615-7, card 4111 1111 1111 1112."}"#,
            #"{"id": 3, "text": "Key: \"<SECRET>\", host <IP_ADDRESS>\nSSN <SSN> é"}"#,
        ])
        XCTAssertTrue(r.stderr.contains("\(input): 4 rows in, 3 out (text); dropped: duplicate_exact 1; PII matches: EMAIL 2, PHONE 2, IP_ADDRESS 1, SSN 1, SECRET 1 (3 rows scrubbed)"), r.stderr)

        let json = try report(reportFile)
        XCTAssertEqual(json["rows_in"] as? Int, 4)
        XCTAssertEqual(json["rows_out"] as? Int, 3)
        XCTAssertEqual(json["format"] as? String, "text")
        XCTAssertEqual(json["dropped"] as? [String: Int],
                       ["bad_row": 0, "pii": 0, "contaminated": 0, "duplicate_exact": 1, "duplicate_near": 0])
        XCTAssertEqual(json["pii"] as? [String: Int],
                       ["EMAIL": 2, "PHONE": 2, "IP_ADDRESS": 1, "CREDIT_CARD": 0, "IBAN": 0, "SSN": 1, "SECRET": 1])
        let examples = try XCTUnwrap(json["examples"] as? [String: [[String: Any]]])
        XCTAssertEqual(Set(examples.keys), ["EMAIL", "PHONE", "IP_ADDRESS", "SSN", "SECRET", "duplicate_exact"])
        XCTAssertEqual(examples["EMAIL"]?.map { $0["line"] as? Int }, [1, 4])
        XCTAssertEqual(examples["EMAIL"]?.first?["text"] as? String, "Mail <EMAIL> or call <PHONE>.")
        XCTAssertEqual(examples["duplicate_exact"]?.first?["line"] as? Int, 4)
        XCTAssertEqual(examples["duplicate_exact"]?.first?["detail"] as? String, "duplicate of line 1")
        XCTAssertEqual(examples["SECRET"]?.first?["text"] as? String, "Key: \"<SECRET>\", host <IP_ADDRESS>\nSSN <SSN> é")
        let reportText = try String(contentsOfFile: reportFile, encoding: .utf8)
        XCTAssertFalse(reportText.contains("john.doe") || reportText.contains("AKIA") || reportText.contains("6789"), reportText)
    }

    func testChatAndPreferenceRowsKeepEverythingButTheirScrubbedText() throws {
        let chat = try write("chat.jsonl", [
            #"{"messages": [{"role": "user", "content": "I am at 192.168.0.1", "name": "a@b.com"}, {"role": "model", "content": "ok"}], "meta": {"n": [1, 2e3]}}"#,
            #"{"messages":[{"role":"user","content":"no PII here"}]}"#,
        ])
        let r = try filter(chat, path("chat-out.jsonl"))
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try lines(path("chat-out.jsonl")), [
            #"{"messages": [{"role": "user", "content": "I am at <IP_ADDRESS>", "name": "a@b.com"}, {"role": "model", "content": "ok"}], "meta": {"n": [1, 2e3]}}"#,
            #"{"messages":[{"role":"user","content":"no PII here"}]}"#,
        ])
        XCTAssertTrue(r.stderr.contains("2 rows in, 2 out (chat)"), r.stderr)

        let preference = try write("pref.jsonl", [
            #"{"chosen": "Call 555-123-4567", "prompt": [{"role": "user", "content": "mail x@y.org?"}], "rejected": "IBAN GB82WEST12345698765432", "id": "p1"}"#,
            #"{"prompt": "ssn 123-45-6789", "chosen": "fine", "rejected": "also fine"}"#,
        ])
        let p = try filter(preference, path("pref-out.jsonl"), ["--format", "preference", "--dedup", "off"])
        XCTAssertEqual(p.status, 0, p.stderr)
        XCTAssertEqual(try lines(path("pref-out.jsonl")), [
            #"{"chosen": "Call <PHONE>", "prompt": [{"role": "user", "content": "mail <EMAIL>?"}], "rejected": "IBAN <IBAN>", "id": "p1"}"#,
            #"{"prompt": "ssn <SSN>", "chosen": "fine", "rejected": "also fine"}"#,
        ])
    }

    func testPIIDropAndOff() throws {
        let input = try write("in.jsonl", [#"{"text": "card 4111111111111111"}"#, #"{"text": "clean"}"#, #"{"text": "a@b.org"}"#])
        let dropped = try filter(input, path("drop.jsonl"), ["--pii", "drop", "--report", path("r.json")])
        XCTAssertEqual(dropped.status, 0, dropped.stderr)
        XCTAssertEqual(try lines(path("drop.jsonl")), [#"{"text": "clean"}"#])
        let json = try report(path("r.json"))
        XCTAssertEqual((json["dropped"] as? [String: Int])?["pii"], 2)
        XCTAssertEqual((json["examples"] as? [String: [[String: Any]]])?["pii"]?.map { $0["text"] as? String }, ["card <CREDIT_CARD>", "<EMAIL>"])

        let off = try filter(input, path("off.jsonl"), ["--pii", "off"])
        XCTAssertEqual(off.status, 0, off.stderr)
        XCTAssertEqual(try lines(path("off.jsonl")), try lines(input))
    }

    func testNearDuplicatesAreDroppedKeepingTheFirst() throws {
        var state: UInt64 = 11
        let words = (0..<60).map { _ -> String in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return "word\((state >> 33) % 3000)"
        }
        var changed = words
        changed[30] = "different"
        let other = words.map { $0 + "x" }
        let input = try write("in.jsonl", [words, changed, other].map { #"{"text": "\#($0.joined(separator: " "))"}"# })
        let r = try filter(input, path("out.jsonl"), ["--dedup", "near", "--report", path("r.json")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try lines(path("out.jsonl")), [try lines(input)[0], try lines(input)[2]])
        let json = try report(path("r.json"))
        XCTAssertEqual((json["dropped"] as? [String: Int])?["duplicate_near"], 1)
        XCTAssertEqual((json["examples"] as? [String: [[String: Any]]])?["duplicate_near"]?.first?["detail"] as? String,
                       "near duplicate of line 1")
        XCTAssertEqual(json["near_lsh"] as? [String: Int], ["bands": 16, "rows": 8])
        // Exact deduplication alone keeps the changed text.
        let exact = try filter(input, path("exact.jsonl"))
        XCTAssertEqual(exact.status, 0, exact.stderr)
        XCTAssertEqual(try lines(path("exact.jsonl")).count, 3)
    }

    func testDecontaminationNamesTheEvaluationFile() throws {
        let sentence = "the quick brown fox jumps over the lazy dog near the river bank today"  // 14 words
        let first = try write("eval-a.jsonl", [#"{"text": "nothing in common with the training rows at all"}"#])
        let second = try write("eval-b.jsonl", [#"{"messages": [{"role": "user", "content": "\#(sentence)"}]}"#])
        let thirteen = sentence.split(separator: " ").prefix(13).joined(separator: " ")
        let twelve = sentence.split(separator: " ").prefix(12).joined(separator: " ")
        let input = try write("in.jsonl", [#"{"text": "Intro. \#(thirteen.uppercased())!"}"#, #"{"text": "\#(twelve)"}"#])
        let r = try filter(input, path("out.jsonl"), ["--decontaminate", "\(first),\(second)", "--report", path("r.json")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try lines(path("out.jsonl")), [try lines(input)[1]])
        XCTAssertTrue(r.stderr.contains("contaminated by: \(second) 1"), r.stderr)
        let json = try report(path("r.json"))
        XCTAssertEqual(json["contaminated_by"] as? [String: Int], [second: 1])
        XCTAssertEqual((json["examples"] as? [String: [[String: Any]]])?["contaminated"]?.first?["detail"] as? String,
                       "shares a 13-gram with \(second)")
    }

    func testRefusesToReplaceOutputsWithoutForceAndInEqualToOut() throws {
        let input = try write("in.jsonl", [#"{"text": "a"}"#])
        let out = try write("out.jsonl", ["precious"])
        let refused = try filter(input, out)
        XCTAssertEqual(refused.status, 1)
        XCTAssertEqual(refused.stderr, "error: --out \(out) exists; pass --force to replace it\n")
        XCTAssertEqual(try lines(out), ["precious"])
        let reportFile = try write("report.json", ["{}"])
        let refusedReport = try filter(input, path("new.jsonl"), ["--report", reportFile])
        XCTAssertEqual(refusedReport.status, 1)
        XCTAssertTrue(refusedReport.stderr.hasPrefix("error: --report \(reportFile) exists; pass --force"), refusedReport.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("new.jsonl")))

        let forced = try filter(input, out, ["--force"])
        XCTAssertEqual(forced.status, 0, forced.stderr)
        XCTAssertEqual(try lines(out), [#"{"text": "a"}"#])

        let same = try filter(input, input, ["--force"])
        XCTAssertEqual(same.status, 1)
        XCTAssertTrue(same.stderr.hasPrefix("error: --out \(input) is the --in file"), same.stderr)
        XCTAssertEqual(try lines(input), [#"{"text": "a"}"#])
    }

    func testABadRowIsOneLineNamingFileAndLineAndCanBeSkipped() throws {
        let input = try write("in.jsonl", [#"{"text": "one"}"#, "", #"{"text": "two", }"#, #"{"text": 3}"#, #"{"text": "four"}"#])
        let out = path("out.jsonl")
        let r = try filter(input, out)
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stderr, "error: \(input):3: not valid JSON: expected a string key at column 17\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), ["in.jsonl"])  // no temporary file

        let skipped = try filter(input, out, ["--skip-bad-rows", "--report", path("r.json")])
        XCTAssertEqual(skipped.status, 0, skipped.stderr)
        XCTAssertEqual(try lines(out), [#"{"text": "one"}"#, #"{"text": "four"}"#])
        let json = try report(path("r.json"))
        XCTAssertEqual((json["dropped"] as? [String: Int])?["bad_row"], 2)
        XCTAssertEqual((json["examples"] as? [String: [[String: Any]]])?["bad_row"]?.map { "\($0["line"]!): \($0["detail"]!)" },
                       ["3: not valid JSON: expected a string key at column 17", "4: \"text\" must be a string"])

        let wrongFormat = try filter(input, path("chat.jsonl"), ["--format", "chat"])
        XCTAssertEqual(wrongFormat.status, 1)
        XCTAssertEqual(wrongFormat.stderr, "error: \(input):1: missing key \"messages\"\n")
        let unknown = try write("unknown.jsonl", [#"{"question": "q", "answer": "a"}"#])
        let undetected = try filter(unknown, path("u.jsonl"))
        XCTAssertEqual(undetected.status, 1)
        XCTAssertEqual(undetected.stderr, "error: \(unknown):1: cannot tell the format from the keys (\"question\", \"answer\"): expected \"text\", \"messages\", \"prompt\" (with \"chosen\" and \"rejected\", or alone); pass --format\n")
    }
}
