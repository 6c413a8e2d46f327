import Foundation
import XCTest

/// Runs the `gemma-train` executable built next to the test bundle and captures its output.
struct CommandRunner {
    struct Result {
        let status: Int32, stdout: String, stderr: String
    }

    static let executable: URL = {
        var dir = Bundle(for: Marker.self).bundleURL
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("gemma-train").path), dir.path != "/" {
            dir.deleteLastPathComponent()
        }
        return dir.appendingPathComponent("gemma-train")
    }()

    /// Repository paths (fixtures, configs).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let tokenizer = root.appendingPathComponent("Tests/GemmaTests/Fixtures/tokenizer/demo.model").path
    static let hfFixtures = root.appendingPathComponent("Tests/GemmaTests/Fixtures/hf").path

    /// Runs `gemma-train arguments`, or the program `executable` (found on PATH) with them.
    static func run(_ arguments: [String], stdin: String? = nil, executable program: String? = nil) throws -> Result {
        let process = Process()
        if let program {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [program] + arguments
        } else {
            process.executableURL = executable
            process.arguments = arguments
        }
        process.environment = childEnvironment
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// This process's environment without what MPI put there when a test initialised it in this process
    /// (a singleton job): a child `mpirun` or `gemma-train` would take it for its own job's.
    static var childEnvironment: [String: String] {
        ProcessInfo.processInfo.environment.filter { key, _ in
            key.hasPrefix("OMPI_ALLOW") || !["OMPI_", "PMIX_", "OPAL_", "ORTE_"].contains { key.hasPrefix($0) }
        }
    }

    /// Runs `gemma-train arguments` on `ranks` MPI ranks (one OpenBLAS thread each, oversubscribed when
    /// needed) from the repository root.
    static func mpirun(_ ranks: Int, _ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        var launcher = ["-np", "\(ranks)", "--oversubscribe", "--bind-to", "none", "-x", "OPENBLAS_NUM_THREADS=1"]
        if getuid() == 0 { launcher.append("--allow-run-as-root") }
        for (key, value) in environment { launcher += ["-x", "\(key)=\(value)"] }
        return try inRoot { try run(launcher + [executable.path] + arguments, executable: "mpirun") }
    }

    /// `body` with the repository root as the current directory (configs name paths relative to it).
    static func inRoot<R>(_ body: () throws -> R) rethrows -> R {
        let previous = FileManager.default.currentDirectoryPath
        _ = FileManager.default.changeCurrentDirectoryPath(root.path)
        defer { _ = FileManager.default.changeCurrentDirectoryPath(previous) }
        return try body()
    }

    /// Settings that keep a run of the tiny configs to a fraction of a second per step.
    static let shortRun = ["--set", "train.warmup_steps=2", "--set", "train.batch_size=8", "--set", "train.micro_batch_size=2",
                           "--set", "data.seq_len=64", "--set", "train.eval_every=0", "--set", "log.tensorboard=false"]

    /// Per-task data settings of the short runs: DPO trains on the small evaluation file of pairs (its
    /// reference pass scores every training pair before the first step).
    static func taskData(_ task: String) -> [String] {
        switch task {
        case "dpo": return ["--set", "data.train=Configs/data/preferences-eval.jsonl", "--set", "data.eval=null"]
        case "rl":
            return ["--init", rlModels.policy, "--set", "rl.reward_model=\(rlModels.reward)", "--set", "data.train=Configs/data/prompts-eval.jsonl",
                    "--set", "data.eval=null", "--set", "rl.max_new_tokens=8", "--set", "train.batch_size=4"]
        default: return []
        }
    }

    /// A policy and a judge for short RL runs, made once per test process: the tiny preset with the
    /// demo tokenizer (random weights), and a reward model trained for 2 steps.
    static let rlModels: (policy: String, reward: String) = {
        let dir = try! temporaryDirectory()
        let policy = dir.appendingPathComponent("policy.h5").path, reward = dir.appendingPathComponent("reward")
        try! inRoot {
            let made = try run(["init-model", "--preset", "tiny", "--tokenizer", "Configs/tokenizer/demo.model", "--out", policy])
            precondition(made.status == 0, made.stderr)
            let trained = try run(["reward", "--config", "Configs/reward-tiny.yaml", "--set", "run.dir=\(reward.path)"] + shortRun
                                  + ["--set", "train.steps=2"])
            precondition(trained.status == 0, trained.stderr)
        }
        return (policy, reward.appendingPathComponent("ckpt-00000002.h5").path)
    }()

    /// The `loss` of every step in `dir/metrics.jsonl`, in order.
    static func losses(_ dir: URL) throws -> [Double] {
        try records(dir).map { ($0["loss"] as! NSNumber).doubleValue }
    }

    /// The records of `dir/metrics.jsonl`.
    static func records(_ dir: URL) throws -> [[String: Any]] {
        let text = try String(contentsOf: dir.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        return try text.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    }

    /// A fresh temporary directory.
    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gemma-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    final class Marker {}
}
