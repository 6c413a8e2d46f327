import Foundation
import XCTest

/// Issue 10's "never lose a run" cases, each as a user meets it: output paths that hold a model, run
/// directories that hold another run, concurrent runs, failed launches, and the messages bad input gets.
final class RunSafetyTests: TinyModelTestCase {
    /// `task` on the tiny config for `steps` steps into `runDir`, plus `extra` arguments (one process).
    func train(_ runDir: URL, task: String = "pretrain", steps: Int = 4, _ extra: [String] = []) throws -> CommandRunner.Result {
        try CommandRunner.inRoot {
            try CommandRunner.run([task, "--config", "Configs/\(task)-tiny.yaml", "--set", "run.dir=\(runDir.path)"]
                                  + CommandRunner.shortRun + ["--set", "train.steps=\(steps)", "--set", "checkpoint.every=2"] + extra)
        }
    }

    /// The error of a failed command: exit 1 and one line `error: ...`, the last on stderr (after any
    /// progress lines).
    func assertOneLineError(_ r: CommandRunner.Result, _ fragments: String..., file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, 1, r.stderr, file: file, line: line)
        let lines = r.stderr.split(separator: "\n")
        XCTAssertEqual(lines.filter { $0.contains("error") }.count, 1, r.stderr, file: file, line: line)
        XCTAssertTrue(lines.last?.hasPrefix("error: ") == true, r.stderr, file: file, line: line)
        for fragment in fragments { XCTAssertTrue(r.stderr.contains(fragment), "\(fragment) in: \(r.stderr)", file: file, line: line) }
        XCTAssertFalse(r.stderr.contains("NSCocoaErrorDomain") || r.stderr.contains("Fatal error") || r.stderr.contains(".tmp-"),
                       r.stderr, file: file, line: line)
    }

    /// The files of a directory and their bytes (but the lock file, which names the last run that held it).
    func contents(_ path: String) -> [String: Data] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0 != ".lock" }
        return Dictionary(uniqueKeysWithValues: names.map { ($0, FileManager.default.contents(atPath: path + "/" + $0) ?? Data()) })
    }

    // 1. Output paths that hold a model are not replaced without --force.
    func testConvertAndInitModelRefuseToReplaceWithoutForce() throws {
        let hf = dir.appendingPathComponent("hf").path
        XCTAssertEqual(try CommandRunner.run(["convert", "--from", model, "--to", hf]).status, 0)
        let before = contents(hf)
        let again = try CommandRunner.run(["convert", "--from", model, "--to", hf, "--dtype", "bf16"])
        assertOneLineError(again, "--to \(hf) is not empty", "--force")
        XCTAssertEqual(contents(hf), before, "the directory's model is untouched")
        XCTAssertEqual(try CommandRunner.run(["convert", "--from", model, "--to", hf, "--dtype", "bf16", "--force"]).status, 0)
        XCTAssertNotEqual(contents(hf)["model.safetensors"], before["model.safetensors"])

        let h5 = dir.appendingPathComponent("back.h5").path
        XCTAssertEqual(try CommandRunner.run(["convert", "--from", hf, "--to", h5]).status, 0)
        let saved = FileManager.default.contents(atPath: h5)
        assertOneLineError(try CommandRunner.run(["convert", "--from", hf, "--to", h5]), "--to \(h5) exists", "--force")
        assertOneLineError(try CommandRunner.run(["init-model", "--preset", "tiny", "--tokenizer", CommandRunner.tokenizer, "--out", h5]),
                           "--out \(h5) exists")
        XCTAssertEqual(FileManager.default.contents(atPath: h5), saved)
        XCTAssertEqual(try CommandRunner.run(["init-model", "--preset", "tiny", "--tokenizer", CommandRunner.tokenizer, "--out", h5,
                                              "--force"]).status, 0)
        // A missing output directory is named, not the hidden temporary file.
        assertOneLineError(try CommandRunner.run(["init-model", "--preset", "tiny", "--tokenizer", CommandRunner.tokenizer,
                                                  "--out", dir.path + "/missing/x.h5"]), "the directory \(dir.path)/missing does not exist")
    }

    // 9. A tokenizer larger than the vocabulary is refused before anything is written.
    func testConvertRefusesATokenizerLargerThanTheVocabulary() throws {
        let out = dir.appendingPathComponent("mha.h5").path
        let r = try CommandRunner.run(["convert", "--from", "\(CommandRunner.hfFixtures)/mha", "--to", out, "--tokenizer", CommandRunner.tokenizer])
        assertOneLineError(r, "has 3000 pieces, more than vocab_size 256")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    // 2. A fresh run never starts over another run's checkpoints; pruning spares checkpoints it did not write.
    func testFreshRunRefusesADirectoryWithCheckpointsAndPruningSparesOthers() throws {
        let run = dir.appendingPathComponent("run")
        XCTAssertEqual(try train(run, steps: 6, ["--set", "checkpoint.keep=0"]).status, 0)
        let before = contents(run.path)
        let again = try train(run, steps: 6)
        assertOneLineError(again, "run.dir \(run.path) holds checkpoints of an earlier run (newest ckpt-00000006.h5)", "--resume auto")
        XCTAssertEqual(contents(run.path), before, "checkpoints, metrics.jsonl, config.yaml and latest untouched")

        // Resuming from step 2 with keep 1: this run prunes its own checkpoints (step 2, and those it
        // writes) but never the earlier run's later ones (steps 4 and 6).
        let resumed = try train(run, steps: 3, ["--resume", run.path + "/ckpt-00000002.h5", "--set", "checkpoint.keep=1"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        let left = contents(run.path).keys.filter { $0.hasPrefix("ckpt-") }.sorted()
        XCTAssertEqual(left, ["ckpt-00000003.h5", "ckpt-00000004.h5", "ckpt-00000006.h5"])
        XCTAssertEqual(try String(contentsOfFile: run.path + "/latest", encoding: .utf8), "ckpt-00000003.h5\n")
        // Continuing past step 4 replaces the earlier run's checkpoint of that step, and says so.
        let further = try train(run, steps: 5, ["--resume", "auto", "--set", "checkpoint.keep=1"])
        XCTAssertEqual(further.status, 0, further.stderr)
        XCTAssertTrue(further.stderr.contains("replacing \(run.path)/ckpt-00000004.h5, a checkpoint of an earlier run"), further.stderr)
    }

    // 3. Two runs on one directory at once: the second is refused, naming the holder.
    func testASecondRunOnALockedDirectoryIsRefused() throws {
        let run = dir.appendingPathComponent("run")
        let first = Process()
        first.executableURL = CommandRunner.executable
        first.arguments = ["pretrain", "--config", "Configs/pretrain-tiny.yaml", "--set", "run.dir=\(run.path)"]
            + CommandRunner.shortRun + ["--set", "train.steps=100000", "--set", "checkpoint.every=0"]
        first.currentDirectoryURL = CommandRunner.root
        first.environment = CommandRunner.childEnvironment
        let output = Pipe()
        first.standardError = output
        first.standardOutput = FileHandle.nullDevice
        try first.run()
        defer { first.terminate(); first.waitUntilExit() }
        // Wait for the first run to hold the lock (it writes its pid into .lock).
        let deadline = Date().addingTimeInterval(60)
        while (try? String(contentsOfFile: run.path + "/.lock", encoding: .utf8))?.contains("pid \(first.processIdentifier)") != true {
            XCTAssertLessThan(Date(), deadline, "the first run never took the lock")
            if Date() > deadline { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
        let second = try train(run, steps: 4, ["--resume", "auto"])
        assertOneLineError(second, "run.dir \(run.path) is in use by another run (pid \(first.processIdentifier) on host ")
        XCTAssertTrue(first.isRunning, "the first run goes on")
    }

    // 4. A launch that fails validation leaves the run's files as they were.
    func testFailedLaunchWritesNothing() throws {
        let run = dir.appendingPathComponent("run")
        XCTAssertEqual(try train(run, steps: 4).status, 0)
        let before = contents(run.path)
        assertOneLineError(try train(run, steps: 8, ["--resume", "auto", "--set", "data.train=/nonexistent/typo.jsonl"]),
                           "/nonexistent/typo.jsonl")
        XCTAssertEqual(contents(run.path), before, "config.yaml and metrics.jsonl untouched")
        assertOneLineError(try train(run, steps: 4, ["--resume", "auto"]), "leaves nothing to train")
        XCTAssertEqual(contents(run.path), before)
    }

    // 10. --resume with --init: a path and --init contradict; auto with --init says which one it used.
    func testResumeWithInit() throws {
        let run = dir.appendingPathComponent("run")
        assertOneLineError(try train(run, ["--resume", "x.h5", "--init", model]), "--resume x.h5 continues a checkpoint and --init")
        let fresh = try train(run, ["--resume", "auto", "--init", model, "--set", "model.preset=null", "--set", "tokenizer.path=null"])
        XCTAssertEqual(fresh.status, 0, fresh.stderr)
        XCTAssertTrue(fresh.stderr.contains("--resume auto: no checkpoint in \(run.path); starting fresh from model.init \(model)"), fresh.stderr)
        let resumed = try train(run, steps: 6, ["--resume", "auto", "--init", model, "--set", "model.preset=null", "--set", "tokenizer.path=null"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("resuming from \(run.path)/ckpt-00000004.h5 after step 4; model.init \(model) is not used"),
                      resumed.stderr)
    }

    // 7. Dialogues with no model turn: named, skippable, counted.
    func testDialoguesWithNoModelTurnAreBadRows() throws {
        let data = dir.appendingPathComponent("sft.jsonl")
        let good = #"{"messages": [{"role": "user", "content": "hi"}, {"role": "model", "content": "hello"}]}"#
        let userOnly = #"{"messages": [{"role": "user", "content": "anyone?"}]}"#
        try ([good, userOnly, good] + Array(repeating: good, count: 8)).joined(separator: "\n").write(to: data, atomically: true, encoding: .utf8)
        let run = dir.appendingPathComponent("run")
        assertOneLineError(try train(run, task: "sft", ["--set", "data.train=\(data.path)", "--set", "data.eval=null"]),
                           "\(data.path):2: no model turn")
        let skipped = try train(run, task: "sft", ["--set", "data.train=\(data.path)", "--set", "data.eval=null", "--set", "data.skip_bad_rows=true"])
        XCTAssertEqual(skipped.status, 0, skipped.stderr)
        XCTAssertTrue(skipped.stderr.contains("1 bad rows skipped"), skipped.stderr)
        let onlyBad = dir.appendingPathComponent("bad.jsonl")
        try userOnly.write(to: onlyBad, atomically: true, encoding: .utf8)
        assertOneLineError(try train(dir.appendingPathComponent("run2"), task: "sft",
                                     ["--set", "data.train=\(onlyBad.path)", "--set", "data.eval=null", "--set", "data.skip_bad_rows=true"]),
                           "\(onlyBad.path): no training rows", "1 bad rows skipped")
    }

    // 8. A reward model does not generate or score text as a language model.
    func testRewardCheckpointIsRefusedWhereALanguageModelBelongs() throws {
        let run = dir.appendingPathComponent("reward")
        XCTAssertEqual(try train(run, task: "reward", steps: 2).status, 0)
        let reward = run.path + "/ckpt-00000002.h5"
        let text = dir.appendingPathComponent("t.txt")
        try "some text\n".write(to: text, atomically: true, encoding: .utf8)
        for arguments in [["generate", "--checkpoint", reward, "--prompt", "hi"], ["chat", "--checkpoint", reward],
                          ["eval", "loss", "--checkpoint", reward, "--data", text.path]] {
            assertOneLineError(try CommandRunner.run(arguments, stdin: "hi\n"), "\(reward) is a reward model")
        }
        assertOneLineError(try CommandRunner.run(["eval", "reward", "--checkpoint", model, "--data", text.path]),
                           "\(model) is a causal language model, not a reward model")
    }

    // 13. seq_len beyond the model's context is a setup error for every model source.
    func testSequenceLengthBeyondTheContextIsNamed() throws {
        let r = try train(dir.appendingPathComponent("run"), ["--init", model, "--set", "model.preset=null", "--set", "tokenizer.path=null",
                                                               "--set", "data.seq_len=1024"])
        assertOneLineError(r, "data.seq_len 1024 exceeds the model's max_position_embeddings 512 (\(model))")
    }

    // 14. A byte that is not UTF-8 names its file and line, and skip_bad_rows skips that row.
    func testNonUTF8LineIsNamedAndSkippable() throws {
        let data = dir.appendingPathComponent("text.txt")
        var bytes = Array(String(repeating: "a line of text to train on\r\n", count: 40).utf8)
        bytes.insert(0xFF, at: 28 * 3 + 5)  // inside line 4
        try Data(bytes).write(to: data)
        let run = dir.appendingPathComponent("run")
        assertOneLineError(try train(run, ["--set", "data.train=\(data.path)", "--set", "data.eval=null"]),
                           "\(data.path):4: not UTF-8 text (byte 0xFF at column 6)")
        let skipped = try train(run, ["--set", "data.train=\(data.path)", "--set", "data.eval=null", "--set", "data.skip_bad_rows=true"])
        XCTAssertEqual(skipped.status, 0, skipped.stderr)
        XCTAssertTrue(skipped.stderr.contains("39 examples"), skipped.stderr)
        XCTAssertTrue(skipped.stderr.contains("1 bad rows skipped"), skipped.stderr)
    }

    // 15-18. Messages: one line, `error:`, exit 1, for option errors and run errors alike.
    func testEveryErrorIsOneLineWithExitCodeOne() throws {
        let generate = ["generate", "--checkpoint", model, "--prompt", "x"]
        assertOneLineError(try CommandRunner.run(generate + ["--max-tokens", "-5"]), "--max-tokens must be at least 1, got -5")
        assertOneLineError(try CommandRunner.run(generate + ["--temperature", "-1"]), "--temperature must be a finite number >= 0")
        assertOneLineError(try CommandRunner.run(generate + ["--temperature", "inf"]), "got inf")
        assertOneLineError(try CommandRunner.run(generate + ["--temperature", "nan"]), "got nan")
        assertOneLineError(try CommandRunner.run(generate + ["--top-p", "-0.5"]), "--top-p must be in (0, 1], got -0.5")
        assertOneLineError(try CommandRunner.run(generate + ["--bogus"]), "Unknown option '--bogus'", "gemma-train generate --help")
        assertOneLineError(try CommandRunner.run(["eval", "loss", "--checkpoint", model]), "--data", "gemma-train eval loss --help")
        assertOneLineError(try train(dir.appendingPathComponent("r"), ["--set", "train.lr=.inf"]), "train.lr: must be a finite number > 0, got inf")
        assertOneLineError(try train(URL(fileURLWithPath: "/proc/version/run")), "run.dir /proc/version/run: cannot create the directory",
                           "Not a directory")
        let help = try CommandRunner.run(["generate", "--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.stdout.contains("--max-tokens"))
    }
}
