import Foundation
import XCTest

/// `pretrain|sft|reward` as a user runs them: a short run, and one-line errors for bad input.
final class TrainCommandsTests: XCTestCase {
    func runTrain(_ arguments: [String]) throws -> CommandRunner.Result {
        try CommandRunner.inRoot { try CommandRunner.run(arguments) }
    }

    func testShortSFTRunThenChatReply() throws {
        let dir = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try runTrain(["sft", "--config", "Configs/sft-tiny.yaml", "--set", "run.dir=\(dir.path)",
                              "--set", "train.steps=4", "--set", "train.warmup_steps=1", "--set", "train.eval_every=4",
                              "--set", "train.eval_batches=1", "--set", "data.seq_len=64"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("done: loss"), r.stderr)
        let reply = try CommandRunner.run(["generate", "--checkpoint", dir.appendingPathComponent("ckpt-00000004.h5").path,
                                           "--chat", "--prompt", "Hello", "--max-tokens", "5"])
        XCTAssertEqual(reply.status, 0, reply.stderr)
    }

    func testBadInputIsOneLineNamingThePlace() throws {
        let dir = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let unknownKey = try runTrain(["sft", "--config", "Configs/sft-tiny.yaml", "--set", "train.stepz=4"])
        XCTAssertEqual(unknownKey.status, 1)
        XCTAssertTrue(unknownKey.stderr.contains("train.stepz"), unknownKey.stderr)
        XCTAssertEqual(unknownKey.stderr.split(separator: "\n").count, 1, unknownKey.stderr)

        let missing = try runTrain(["pretrain", "--config", "Configs/pretrain-tiny.yaml", "--set", "run.dir=\(dir.path)",
                                    "--set", "data.train=nowhere.jsonl", "--set", "train.eval_every=0"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("nowhere.jsonl"), missing.stderr)

        let bad = dir.appendingPathComponent("bad.jsonl")
        try "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"model\", \"content\": \"b\"}]}\n{\"messages\": 5}\n"
            .write(to: bad, atomically: true, encoding: .utf8)
        let malformed = try runTrain(["sft", "--config", "Configs/sft-tiny.yaml", "--set", "run.dir=\(dir.path)",
                                      "--set", "data.train=\(bad.path)", "--set", "train.eval_every=0"])
        XCTAssertEqual(malformed.status, 1)
        XCTAssertTrue(malformed.stderr.contains("error: \(bad.path):2:"), malformed.stderr)
        XCTAssertEqual(malformed.stderr.split(separator: "\n").filter { $0.hasPrefix("error") }.count, 1, malformed.stderr)

        let mesh = try runTrain(["sft", "--config", "Configs/sft-tiny.yaml", "--mesh", "data=2,model=1"])
        XCTAssertEqual(mesh.status, 1)
        XCTAssertTrue(mesh.stderr.contains("mesh"), mesh.stderr)
    }
}
