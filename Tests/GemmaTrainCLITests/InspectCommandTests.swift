import Foundation
import XCTest

/// `gemma-train inspect` on good and damaged files, and `init-model` killed mid-save.
final class InspectCommandTests: XCTestCase {
    var dir: URL!
    var model: String { dir.appendingPathComponent("tiny.h5").path }

    override func setUpWithError() throws {
        dir = try CommandRunner.temporaryDirectory()
        let made = try CommandRunner.run(["init-model", "--preset", "tiny", "--tokenizer", CommandRunner.tokenizer,
                                          "--out", model, "--seed", "3"])
        XCTAssertEqual(made.status, 0, made.stderr)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testInspectAGoodModelFile() throws {
        let text = try CommandRunner.run(["inspect", model])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("version:  1 (model file: no training state)"), text.stdout)
        XCTAssertTrue(text.stdout.contains("kind:     causal-lm"), text.stdout)
        XCTAssertTrue(text.stdout.contains("num_hidden_layers 4"), text.stdout)
        XCTAssertTrue(text.stdout.contains("/params/model.embed_tokens.weight"), text.stdout)
        XCTAssertTrue(text.stdout.contains("39 datasets, all checksums ok"), text.stdout)

        let json = try CommandRunner.run(["inspect", "--json", model])
        XCTAssertEqual(json.status, 0, json.stderr)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["version"] as? String, "1")
        XCTAssertEqual(object["ok"] as? Bool, true)
        XCTAssertNil(object["step"])
        XCTAssertEqual((object["model_config"] as? [String: Any])?["num_hidden_layers"] as? Int, 4)
        let datasets = try XCTUnwrap(object["datasets"] as? [[String: Any]])
        XCTAssertEqual(datasets.count, 39)
        let norm = try XCTUnwrap(datasets.first { $0["path"] as? String == "/params/model.norm.weight" })
        XCTAssertEqual(norm["shape"] as? [Int], [128])
        XCTAssertEqual(norm["status"] as? String, "ok")
    }

    func testInspectACorruptedFileFailsNamingTheDataset() throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: model)))
        // The final norm's weights are zeros; the q projection of layer 3 is random: flip a byte deep in
        // the file, inside the largest dataset written last among the layers.
        let offset = bytes.count * 3 / 4
        bytes[offset] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: model))

        let text = try CommandRunner.run(["inspect", model])
        XCTAssertEqual(text.status, 1, text.stdout + text.stderr)
        let failed = text.stdout.split(separator: "\n").filter { $0.contains("FAILED") }
        XCTAssertEqual(failed.count, 2, text.stdout)  // the dataset's line and the summary
        XCTAssertTrue(failed[0].contains("/params/") && failed[0].contains("checksum mismatch"), String(failed[0]))
        XCTAssertTrue(text.stdout.hasSuffix("1 of 39 datasets FAILED\n"), text.stdout)

        let json = try CommandRunner.run(["inspect", "--json", model])
        XCTAssertEqual(json.status, 1)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["ok"] as? Bool, false)
        let bad = (object["datasets"] as? [[String: Any]] ?? []).filter { $0["status"] as? String == "FAILED" }
        XCTAssertEqual(bad.count, 1)
        XCTAssertTrue((bad.first?["error"] as? String ?? "").contains("checksum mismatch"), "\(bad)")

        try Data(bytes.prefix(bytes.count / 2)).write(to: URL(fileURLWithPath: model))
        let truncated = try CommandRunner.run(["inspect", model])
        XCTAssertEqual(truncated.status, 1)
        XCTAssertTrue(truncated.stderr.hasPrefix("error: \(model): "), truncated.stderr)
        XCTAssertTrue(truncated.stderr.contains("truncated file"), truncated.stderr)
        XCTAssertEqual(truncated.stderr.split(separator: "\n").count, 1, truncated.stderr)
    }

    /// `init-model` over an existing good file, killed with SIGKILL at several points of its save: the
    /// file under the final name is always the old one or the whole new one.
    func testKilledSaveNeverLeavesAnUnloadableFile() throws {
        // About 5 M parameters (20 MB), so that the save takes a while.
        let config = dir.appendingPathComponent("config.json")
        try Data("""
            {"vocab_size": 4096, "hidden_size": 256, "intermediate_size": 1024, "num_hidden_layers": 4,
             "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 64, "max_position_embeddings": 64}
            """.utf8).write(to: config)
        let target = dir.appendingPathComponent("big.h5").path
        let arguments = ["init-model", "--config", config.path, "--tokenizer", CommandRunner.tokenizer, "--out", target]
        let first = try CommandRunner.run(arguments)
        XCTAssertEqual(first.status, 0, first.stderr)

        var killedMidWrite = 0
        for round in 0..<6 {
            let child = Process()
            child.executableURL = CommandRunner.executable
            child.arguments = arguments + ["--seed", "\(round + 10)"]
            child.standardOutput = FileHandle.nullDevice
            child.standardError = FileHandle.nullDevice
            try child.run()
            let deadline = Date().addingTimeInterval(60)
            while child.isRunning, Date() < deadline, !(try temporaryFiles().contains { $0.hasPrefix(".big.h5.tmp-") }) {
                usleep(1_000)
            }
            usleep(UInt32(round * 7_000))
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            if try temporaryFiles().contains(where: { $0.hasPrefix(".big.h5.tmp-") }) { killedMidWrite += 1 }
            let inspected = try CommandRunner.run(["inspect", target])
            XCTAssertEqual(inspected.status, 0, "round \(round): " + inspected.stdout + inspected.stderr)
        }
        XCTAssertGreaterThan(killedMidWrite, 0, "no kill landed inside a save")
    }

    private func temporaryFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains(".tmp-") }
    }
}
