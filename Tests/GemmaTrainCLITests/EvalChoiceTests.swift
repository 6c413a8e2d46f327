import Foundation
import XCTest

/// `gemma-train eval choice` against lm-evaluation-harness's way of scoring, computed with transformers
/// (`Tests/GemmaTests/Fixtures/choice/make_choice_reference.py`): every choice's log-likelihood, the
/// predictions, acc and acc_norm, on one process and on a mesh; bad rows are one line naming them.
final class EvalChoiceTests: XCTestCase {
    static let fixture = CommandRunner.root.appendingPathComponent("Tests/GemmaTests/Fixtures/choice")

    struct Expected: Decodable {
        struct Row: Decodable { let logps: [Double]; let prediction: Int; let prediction_norm: Int }
        let rows: [Row]
        let acc: Double, acc_norm: Double
    }

    func choice(_ data: String, save: String, mpirun ranks: Int? = nil, mesh: String? = nil) throws -> CommandRunner.Result {
        let arguments = ["eval", "choice", "--checkpoint", Self.fixture.appendingPathComponent("model").path,
                         "--tokenizer", CommandRunner.tokenizer, "--data", data, "--batch", "4", "--save", save, "--force"]
            + (mesh.map { ["--mesh", $0] } ?? [])
        return try ranks.map { try CommandRunner.mpirun($0, arguments) } ?? CommandRunner.run(arguments)
    }

    func testLogLikelihoodsEqualTheHarnessWithTransformers() throws {
        let dir = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: Self.fixture.appendingPathComponent("expected.json")))
        let rows = Self.fixture.appendingPathComponent("rows.jsonl").path
        for (ranks, mesh) in [(nil, nil), (2, "data=2,model=1"), (2, "data=1,model=2")] as [(Int?, String?)] {
            let save = dir.appendingPathComponent("saved.jsonl").path
            let r = try choice(rows, save: save, mpirun: ranks, mesh: mesh)
            XCTAssertEqual(r.status, 0, r.stderr)
            let summary = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
            XCTAssertEqual(summary["acc"] as? Double, expected.acc, "\(mesh ?? "one process")")
            XCTAssertEqual(summary["acc_norm"] as? Double, expected.acc_norm)
            XCTAssertEqual(summary["n"] as? Int, expected.rows.count)
            let low = (summary["acc_ci95_low"] as! Double), high = (summary["acc_ci95_high"] as! Double)
            XCTAssertTrue(low < expected.acc && expected.acc < high, "\(low) \(high)")
            let saved = try String(contentsOfFile: save, encoding: .utf8).split(separator: "\n").map {
                try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
            }
            XCTAssertEqual(saved.count, expected.rows.count)
            for (row, (mine, theirs)) in zip(saved, expected.rows).enumerated() {
                let logps = mine["logps"] as! [Double]
                XCTAssertEqual(logps.count, theirs.logps.count)
                for (a, b) in zip(logps, theirs.logps) {
                    XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(b)), "row \(row + 1), \(mesh ?? "one process")")
                }
                XCTAssertEqual(mine["prediction"] as? Int, theirs.prediction)
                XCTAssertEqual(mine["prediction_norm"] as? Int, theirs.prediction_norm)
            }
        }
    }

    func testBadRowsAreOneLine() throws {
        let dir = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = #"{"context": "Pick one:", "choices": ["a", "b"], "answer": 1}"#
        for (bad, message) in [(#"{"context": "x", "choices": [], "answer": 0}"#, ":2: \"choices\" is empty"),
                               (#"{"context": "x", "choices": ["a", "b"], "answer": 2}"#, ":2: \"answer\" 2 is not an index of the 2 choices"),
                               (#"{"context": "x", "choices": ["a", ""], "answer": 0}"#, ":2: choice 1 is empty"),
                               ("not json", ":2: ")] {
            let data = dir.appendingPathComponent("rows.jsonl")
            try Data((good + "\n" + bad + "\n").utf8).write(to: data)
            let r = try choice(data.path, save: dir.appendingPathComponent("s.jsonl").path)
            XCTAssertEqual(r.status, 1, r.stderr)
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
            XCTAssertTrue(r.stderr.hasPrefix("error: \(data.path)\(message)"), r.stderr)
        }
    }
}
