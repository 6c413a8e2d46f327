import Foundation
import XCTest

/// `gemma-train data prepare` then training on the directory, as a user runs them: the same losses as
/// the raw file, bitwise resume, the same curve on two data ranks, and one-line refusals.
final class DataPrepareCommandTests: XCTestCase {
    let source = "Configs/data/pretrain-eval.jsonl"
    let tokenizer = "Configs/tokenizer/demo.model"
    var dir: URL!

    override func setUpWithError() throws { dir = try CommandRunner.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func run(_ arguments: [String]) throws -> CommandRunner.Result {
        try CommandRunner.inRoot { try CommandRunner.run(arguments) }
    }

    func prepare(_ out: String, _ extra: [String] = []) throws -> CommandRunner.Result {
        try run(["data", "prepare", "--in", source, "--out", out, "--tokenizer", tokenizer, "--threads", "2"] + extra)
    }

    /// A short pretraining run on `train` (evaluated every 3 steps on `eval`) into `run.dir=runDir`.
    func pretrain(_ runDir: URL, train: String, eval: String, _ extra: [String] = []) throws -> CommandRunner.Result {
        try run(["pretrain", "--config", "Configs/pretrain-tiny.yaml", "--set", "run.dir=\(runDir.path)",
                 "--set", "data.train=\(train)", "--set", "data.eval=\(eval)", "--set", "train.eval_batches=2",
                 "--set", "train.steps=6", "--set", "checkpoint.every=3", "--set", "checkpoint.keep=0"]
                + CommandRunner.shortRun + ["--set", "train.eval_every=3"] + extra)
    }

    func testTrainingOnAPreparedDirectoryLogsTheRawFilesLossesAndResumesBitForBit() throws {
        let prepared = dir.appendingPathComponent("prepared").path
        let made = try prepare(prepared)
        XCTAssertEqual(made.status, 0, made.stderr)
        XCTAssertTrue(made.stdout.contains("prepared \(prepared): "), made.stdout)

        let raw = dir.appendingPathComponent("raw"), mapped = dir.appendingPathComponent("mapped")
        let r = try pretrain(raw, train: source, eval: source)
        XCTAssertEqual(r.status, 0, r.stderr)
        let m = try pretrain(mapped, train: prepared, eval: prepared)
        XCTAssertEqual(m.status, 0, m.stderr)
        XCTAssertTrue(m.stderr.contains("train data \(prepared): "), m.stderr)
        let rawRecords = try CommandRunner.records(raw), mappedRecords = try CommandRunner.records(mapped)
        XCTAssertEqual(rawRecords.count, 6)
        XCTAssertEqual(try CommandRunner.losses(mapped), try CommandRunner.losses(raw))
        XCTAssertEqual(mappedRecords.last?["eval_loss"] as? Double, rawRecords.last?["eval_loss"] as? Double)
        XCTAssertNotNil(rawRecords.last?["eval_loss"] as? Double)

        let resumed = dir.appendingPathComponent("resumed")
        try FileManager.default.createDirectory(at: resumed, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: mapped.appendingPathComponent("ckpt-00000003.h5"),
                                         to: resumed.appendingPathComponent("ckpt-00000003.h5"))
        let again = try pretrain(resumed, train: prepared, eval: prepared, ["--resume", "auto"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(try CommandRunner.losses(resumed), Array(try CommandRunner.losses(mapped).dropFirst(3)))

        // Two data ranks, each cutting only its slices' rows from the mapped shards: the same curve.
        let mesh = dir.appendingPathComponent("mesh")
        let m2 = try CommandRunner.mpirun(2, ["pretrain", "--config", "Configs/pretrain-tiny.yaml", "--mesh", "data=2,model=1",
                                              "--set", "run.dir=\(mesh.path)", "--set", "data.train=\(prepared)", "--set", "data.eval=null",
                                              "--set", "train.steps=6"] + CommandRunner.shortRun)
        XCTAssertEqual(m2.status, 0, m2.stderr)
        for (step, (a, b)) in zip(try CommandRunner.losses(mapped), try CommandRunner.losses(mesh)).enumerated() {
            XCTAssertEqual(b, a, accuracy: 1e-4 * abs(a), "data=2 step \(step + 1)")
        }
        XCTAssertEqual(try CommandRunner.losses(mesh).count, 6)
    }

    /// SIGKILL while shards are being written: no index.json, so training refuses the directory.
    func testAKilledPreparationNeverLooksComplete() throws {
        let text = try String(contentsOf: CommandRunner.root.appendingPathComponent("Configs/data/pretrain.jsonl"), encoding: .utf8)
        let big = dir.appendingPathComponent("big.jsonl")
        try String(repeating: text, count: 12).write(to: big, atomically: true, encoding: .utf8)  // ~20 MB, seconds of work
        let out = dir.appendingPathComponent("killed").path
        let process = Process()
        process.executableURL = CommandRunner.executable
        process.arguments = ["data", "prepare", "--in", big.path, "--out", out, "--threads", "1", "--shard-megabytes", "2",
                             "--tokenizer", CommandRunner.root.appendingPathComponent(tokenizer).path]
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        // Kill once the first shard is published, i.e. mid-way.
        while !FileManager.default.fileExists(atPath: out + "/shard-00000.tokens") && process.isRunning && Date() < deadline {
            usleep(10_000)
        }
        XCTAssertTrue(process.isRunning, "the preparation finished before it could be killed")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/index.json"))
        let r = try pretrain(dir.appendingPathComponent("run"), train: out, eval: source)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("error: \(out): not a prepared token directory: no index.json"), r.stderr)
    }

    func testRefusesANonEmptyOutputAnotherTokenizerAndChatTraining() throws {
        let out = dir.appendingPathComponent("out").path
        XCTAssertEqual(try prepare(out).status, 0)
        let again = try prepare(out)
        XCTAssertEqual(again.status, 1)
        XCTAssertEqual(again.stderr, "error: \(out): is not empty (3 entries); pass --force to replace a previous preparation\n")
        let forced = try prepare(out, ["--force"])
        XCTAssertEqual(forced.status, 0, forced.stderr)

        let variant = dir.appendingPathComponent("variant").path
        let madeVariant = try run(["data", "prepare", "--in", source, "--out", variant, "--tokenizer",
                                   CommandRunner.root.appendingPathComponent("Tests/GemmaTests/Fixtures/tokenizer/variant.model").path])
        XCTAssertEqual(madeVariant.status, 0, madeVariant.stderr)
        let mismatched = try pretrain(dir.appendingPathComponent("run"), train: variant, eval: source)
        XCTAssertEqual(mismatched.status, 1)
        let error = mismatched.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        XCTAssertEqual(error.count, 1, mismatched.stderr)
        XCTAssertTrue(error.first?.hasPrefix("error: \(variant): prepared with tokenizer") ?? false, mismatched.stderr)
        XCTAssertTrue(mismatched.stderr.contains("variant.model") && mismatched.stderr.contains("demo.model"), mismatched.stderr)

        let sft = try run(["sft", "--config", "Configs/sft-tiny.yaml", "--set", "run.dir=\(dir.appendingPathComponent("sft").path)",
                           "--set", "data.train=\(out)", "--set", "train.eval_every=0", "--set", "data.eval=null"])
        XCTAssertEqual(sft.status, 1)
        XCTAssertTrue(sft.stderr.contains("error: \(out): is a directory: prepared token directories hold pretraining text only"), sft.stderr)
    }
}
