import Foundation
import Training
import XCTest

/// Saves that hit a full disk: a training run's second checkpoint, `init-model` and `convert`. Each ends
/// with one `error:` line naming the file and the reason and exit code 1 (no crash in HDF5's exit
/// handler), leaves no temporary file, and leaves what was there before intact.
///
/// The disk is a small tmpfs mounted for the test, so these run only as root (skipped otherwise); the
/// mount is always undone in `tearDown`.
final class DiskFullTests: XCTestCase {
    var disk: URL!
    var mounted = false

    override func setUpWithError() throws {
        guard getuid() == 0 else { throw XCTSkip("mounting a small tmpfs needs root") }
        disk = try CommandRunner.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        if mounted {
            let result = try CommandRunner.run([disk.path], executable: "umount")
            XCTAssertEqual(result.status, 0, "umount \(disk.path): \(result.stderr)")
        }
        if let disk { try? FileManager.default.removeItem(at: disk) }
    }

    /// Mounts a tmpfs of `kilobytes` at ``disk``.
    func mount(kilobytes: Int) throws {
        let result = try CommandRunner.run(["-t", "tmpfs", "-o", "size=\(kilobytes)k", "tmpfs", disk.path], executable: "mount")
        guard result.status == 0 else { throw XCTSkip("cannot mount a tmpfs: \(result.stderr)") }
        mounted = true
    }

    /// Asserts that `result` is exit code 1 with stderr ending in exactly one line `error: ...` naming
    /// `path` (not a temporary name) and containing `reason`, and nothing that looks like a crash.
    func assertOneLineError(_ result: CommandRunner.Result, naming path: String, reason: String,
                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(result.status, 1, result.stderr, file: file, line: line)
        let lines = result.stderr.split(separator: "\n").map(String.init)
        let errors = lines.filter { $0.hasPrefix("error:") }
        XCTAssertEqual(errors.count, 1, result.stderr, file: file, line: line)
        XCTAssertEqual(errors.first, lines.last, "the error is not the last line:\n\(result.stderr)", file: file, line: line)
        XCTAssertTrue(errors.first?.contains(" \(path): ") == true, "\(path) not named:\n\(result.stderr)", file: file, line: line)
        XCTAssertTrue(errors.first?.contains(reason) == true, result.stderr, file: file, line: line)
        for crash in ["Signal", "crashed", "Segmentation", "Backtrace", "Fatal error"] {
            XCTAssertFalse(result.stderr.contains(crash), result.stderr, file: file, line: line)
        }
    }

    func temporaryFiles(_ directory: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains(".tmp-") }
    }

    /// The tiny model's checkpoint is 17.8 MB: the first fits on a 28 MB disk, the second does not.
    func testASecondCheckpointThatDoesNotFitIsOneErrorAndTheFirstStaysResumable() throws {
        try mount(kilobytes: 28 * 1024)
        let run = disk.appendingPathComponent("run")
        let result = try CommandRunner.inRoot {
            try CommandRunner.run(["pretrain", "--config", "Configs/pretrain-tiny.yaml", "--set", "run.dir=\(run.path)",
                                   "--set", "train.steps=4", "--set", "checkpoint.every=2"] + CommandRunner.shortRun)
        }
        let directory = CheckpointDirectory(path: run.path)
        assertOneLineError(result, naming: directory.checkpointPath(step: 4), reason: "No space left on device (errno 28)")
        XCTAssertEqual(try temporaryFiles(run), [])
        XCTAssertEqual(try directory.checkpoints().map(\.step), [2])
        XCTAssertEqual(directory.latest(), CheckpointDirectory.fileName(step: 2))
        let inspected = try CommandRunner.run(["inspect", directory.checkpointPath(step: 2)])
        XCTAssertEqual(inspected.status, 0, inspected.stdout + inspected.stderr)
        XCTAssertEqual(try directory.resolve(resume: "auto", log: { XCTFail("unexpected fallback: \($0)") }),
                       directory.checkpointPath(step: 2))
    }

    /// `init-model` (a `.h5` model file) and `convert` to Hugging Face (safetensors) onto a disk too small
    /// for either; an existing model file at the target stays as it was.
    func testModelFilesThatDoNotFitAreOneErrorAndLeaveTheOldFile() throws {
        try mount(kilobytes: 5 * 1024)
        let target = disk.appendingPathComponent("tiny.h5").path
        let small = disk.appendingPathComponent("config.json")
        try Data("""
            {"vocab_size": 4096, "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1,
             "num_attention_heads": 1, "num_key_value_heads": 1, "head_dim": 8, "max_position_embeddings": 64}
            """.utf8).write(to: small)
        let first = try CommandRunner.run(["init-model", "--config", small.path, "--tokenizer", CommandRunner.tokenizer,
                                           "--out", target])
        XCTAssertEqual(first.status, 0, first.stderr)
        let before = try Data(contentsOf: URL(fileURLWithPath: target))

        let big = try CommandRunner.run(["init-model", "--preset", "tiny", "--tokenizer", CommandRunner.tokenizer,
                                         "--out", target, "--force"])
        assertOneLineError(big, naming: target, reason: "No space left on device (errno 28)")
        XCTAssertEqual(try temporaryFiles(disk), [])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: target)), before)

        // The tiny model (6 MB), made elsewhere, exported as safetensors onto the 5 MB disk.
        let elsewhere = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: elsewhere) }
        let model = elsewhere.appendingPathComponent("tiny.h5").path
        XCTAssertEqual(try CommandRunner.run(["init-model", "--preset", "tiny", "--tokenizer", CommandRunner.tokenizer,
                                              "--out", model]).status, 0)
        let hf = disk.appendingPathComponent("hf")
        let converted = try CommandRunner.run(["convert", "--from", model, "--to", hf.path])
        assertOneLineError(converted, naming: hf.appendingPathComponent("model.safetensors").path,
                           reason: "No space left on device (errno 28)")
        XCTAssertEqual(try temporaryFiles(hf), [])
    }
}
