import Foundation
import XCTest

/// `data.filters` in a run: the training file is filtered before its rows are built, the counts are
/// logged, and an error in a row the filters kept still names the training file and its own line.
final class DataFiltersRunTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try CommandRunner.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func run(_ task: String, config: String, train: String, _ extra: [String]) throws -> CommandRunner.Result {
        try CommandRunner.inRoot {
            try CommandRunner.run([task, "--config", config, "--set", "run.dir=\(dir.appendingPathComponent("run").path)",
                                   "--set", "data.train=\(train)", "--set", "data.eval=null", "--set", "train.steps=2"]
                                  + CommandRunner.shortRun + extra)
        }
    }

    func testPretrainingOnFilteredDataLogsTheCounts() throws {
        let source = try String(contentsOf: CommandRunner.root.appendingPathComponent("Configs/data/pretrain.jsonl"), encoding: .utf8)
        let documents = source.split(separator: "\n").prefix(30).map(String.init)
        let train = dir.appendingPathComponent("train.jsonl").path
        try ((documents + documents.prefix(3) + [#"{"text": "Write to john@example.com now."}"#]).joined(separator: "\n") + "\n")
            .write(toFile: train, atomically: true, encoding: .utf8)

        func copies() throws -> Set<String> {
            Set(try FileManager.default.contentsOfDirectory(atPath: FileManager.default.temporaryDirectory.path)
                .filter { $0.hasPrefix("gemma-train-filtered-") })
        }
        let copiesBefore = try copies()
        let filtered = try run("pretrain", config: "Configs/pretrain-tiny.yaml", train: train, ["--set", "data.filters=pii,dedup"])
        XCTAssertEqual(filtered.status, 0, filtered.stderr)
        XCTAssertTrue(filtered.stderr.contains(
            "data.filters [pii, dedup]: \(train): 34 rows in, 31 out (text); dropped: duplicate_exact 3; PII matches: EMAIL 1 (1 rows scrubbed)\n"),
            filtered.stderr)
        XCTAssertTrue(filtered.stderr.contains("train data \(train): 31 examples -> "), filtered.stderr)
        let config = try String(contentsOf: dir.appendingPathComponent("run/config.yaml"), encoding: .utf8)
        XCTAssertTrue(config.contains("  filters: [pii, dedup]\n"), config)
        XCTAssertEqual(try copies(), copiesBefore, "the filtered copy is removed")

        try FileManager.default.removeItem(at: dir.appendingPathComponent("run"))
        let unfiltered = try run("pretrain", config: "Configs/pretrain-tiny.yaml", train: train, [])
        XCTAssertEqual(unfiltered.status, 0, unfiltered.stderr)
        XCTAssertFalse(unfiltered.stderr.contains("data.filters"), unfiltered.stderr)
        XCTAssertTrue(unfiltered.stderr.contains("train data \(train): 34 examples -> "), unfiltered.stderr)
    }

    func testAnErrorInAFilteredFileNamesItsOwnLine() throws {
        let dialogue = #"{"messages": [{"role": "user", "content": "Hi, I am at 10.0.0.1"}, {"role": "model", "content": "Hello."}]}"#
        let train = dir.appendingPathComponent("chat.jsonl").path
        try [dialogue, dialogue, "", #"{"messages": [{"role": "user", "content": "no reply"}]}"#, dialogue].joined(separator: "\n")
            .write(toFile: train, atomically: true, encoding: .utf8)
        let r = try run("sft", config: "Configs/sft-tiny.yaml", train: train, ["--set", "data.filters=[dedup, pii]"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("data.filters [dedup, pii]: \(train): 4 rows in, 2 out (chat); dropped: duplicate_exact 2"), r.stderr)
        XCTAssertTrue(r.stderr.contains("error: \(train):4: no model turn: the dialogue has no token to learn from"), r.stderr)

        let text = dir.appendingPathComponent("corpus.txt").path
        try "some text\n".write(toFile: text, atomically: true, encoding: .utf8)
        let refused = try run("pretrain", config: "Configs/pretrain-tiny.yaml", train: text, ["--set", "data.filters=pii"])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("data.filters") && refused.stderr.contains("filters read a .jsonl data.train"), refused.stderr)
    }
}
