import Foundation
import Gemma
import XCTest
@testable import Training

/// Short real runs on the embedded data: the loss falls, files appear, the reward model learns.
final class TrainerTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    func config(_ name: String, _ overrides: [String]) throws -> RunConfig {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("trainer-\(UUID().uuidString)")
        let previous = FileManager.default.currentDirectoryPath
        _ = FileManager.default.changeCurrentDirectoryPath(Self.root.path)
        defer { _ = FileManager.default.changeCurrentDirectoryPath(previous) }
        var c = try RunConfig.load(path: "Configs/\(name).yaml", overrides: overrides + ["run.dir=\(dir.path)"])
        // Paths in the shipped configs are relative to the repository root.
        c.data.train = Self.root.appendingPathComponent(c.data.train).path
        c.data.eval = c.data.eval.map { Self.root.appendingPathComponent($0).path }
        c.tokenizer.path = c.tokenizer.path.map { Self.root.appendingPathComponent($0).path }
        return c
    }

    func testPretrainLowersTheLossAndWritesTheRun() throws {
        let c = try config("pretrain-tiny", ["train.steps=30", "data.seq_len=64", "train.batch_size=8",
                                            "train.micro_batch_size=4", "train.warmup_steps=5", "train.eval_every=0",
                                            "checkpoint.every=20", "checkpoint.keep=1", "log.every=100"])
        let summary = try Trainer(config: c, task: .pretrain, log: { _ in }).run()
        XCTAssertLessThan(summary.lastLoss, summary.firstLoss - 0.5, "\(summary.firstLoss) -> \(summary.lastLoss)")
        let dir = URL(fileURLWithPath: c.run.dir)
        let metrics = try String(contentsOf: dir.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        XCTAssertEqual(metrics.split(separator: "\n").count, 30)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        XCTAssertEqual(files.filter { $0.hasPrefix("ckpt-") }, ["ckpt-00000030.h5"])  // keep 1
        XCTAssertTrue(files.contains("config.yaml"))
        XCTAssertTrue(files.contains { $0.hasPrefix("events.out.tfevents.") })
        let saved = try ModelFile.load(summary.checkpoint)
        XCTAssertEqual(saved.model.config, GemmaConfig.tiny)
        XCTAssertNotNil(saved.tokenizer)
    }

    func testSFTLowersTheEvalLoss() throws {
        let c = try config("sft-tiny", ["train.steps=25", "data.seq_len=128", "train.batch_size=8",
                                       "train.micro_batch_size=8", "train.warmup_steps=5", "train.eval_every=25",
                                       "train.eval_batches=2", "checkpoint.every=0", "log.every=100", "train.lr=3e-3"])
        let summary = try Trainer(config: c, task: .sft, log: { _ in }).run()
        XCTAssertLessThan(summary.lastLoss, summary.firstLoss - 1, "\(summary.firstLoss) -> \(summary.lastLoss)")
        XCTAssertLessThan(summary.evalLoss!, summary.firstLoss - 1)
    }

    func testRewardModelBeatsChanceOnHeldOutPairs() throws {
        let c = try config("reward-tiny", ["train.steps=40", "data.seq_len=128", "train.batch_size=8",
                                          "train.micro_batch_size=8", "train.warmup_steps=5", "train.eval_every=0",
                                          "train.eval_batches=8", "checkpoint.every=0", "log.every=100"])
        let summary = try Trainer(config: c, task: .reward, log: { _ in }).run()
        XCTAssertGreaterThan(summary.evalAccuracy!, 0.6, "held-out accuracy \(summary.evalAccuracy!)")
        XCTAssertEqual(try ModelFile.load(summary.checkpoint).model.head, .reward)
    }

    func testSetupErrorsNameTheSetting() throws {
        var c = try config("sft-tiny", [])
        c.data.train = "/nonexistent/sft.jsonl"
        XCTAssertThrowsError(try Trainer(config: c, task: .sft, log: { _ in })) {
            XCTAssertTrue("\($0)".contains("/nonexistent/sft.jsonl"), "\($0)")
        }
        c = try config("sft-tiny", [])
        c.model.preset = "huge"
        XCTAssertThrowsError(try Trainer(config: c, task: .sft, log: { _ in })) {
            XCTAssertTrue("\($0)".contains("huge"), "\($0)")
        }
    }
}
