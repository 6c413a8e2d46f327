import Foundation
import XCTest

/// Resuming runs from their HDF5 checkpoints the way users do: bit for bit on the same mesh, within
/// float re-association on another mesh, after SIGTERM, and past a damaged newest checkpoint.
final class ResumeTests: XCTestCase {
    let every4 = CommandRunner.shortRun + ["--set", "train.steps=12", "--set", "checkpoint.every=4", "--set", "checkpoint.keep=0"]

    /// `task` for 12 steps on `mesh` (`data x model` ranks under mpirun) into `dir`, plus `extra` arguments.
    @discardableResult
    func train(_ task: String, _ dir: URL, mesh: (Int, Int) = (1, 1), _ extra: [String] = []) throws -> CommandRunner.Result {
        let arguments = [task, "--config", "Configs/\(task)-tiny.yaml", "--set", "run.dir=\(dir.path)",
                         "--mesh", "data=\(mesh.0),model=\(mesh.1)"] + every4 + CommandRunner.taskData(task) + extra
        let r = try CommandRunner.mpirun(mesh.0 * mesh.1, arguments)
        XCTAssertEqual(r.status, 0, "\(task) \(mesh): \(r.stderr)")
        return r
    }

    /// A new run directory holding only `source`'s step-4 checkpoint.
    func directoryWithCheckpoint4(of source: URL, in base: URL, named name: String) throws -> URL {
        let dir = base.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: source.appendingPathComponent("ckpt-00000004.h5"),
                                         to: dir.appendingPathComponent("ckpt-00000004.h5"))
        return dir
    }

    func testResumedRunLogsTheSameLossesBitForBit() throws {
        let base = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: base) }
        for (task, mesh) in [("pretrain", (1, 1)), ("sft", (1, 1)), ("reward", (1, 1)), ("sft", (2, 1)), ("reward", (1, 2)),
                             ("dpo", (1, 1)), ("dpo", (2, 1)), ("rl", (1, 1)), ("rl", (1, 2))] {
            let full = base.appendingPathComponent("\(task)-\(mesh)-full")
            try train(task, full, mesh: mesh)
            let resumed = try directoryWithCheckpoint4(of: full, in: base, named: "\(task)-\(mesh)-resumed")
            let r = try train(task, resumed, mesh: mesh, ["--resume", "auto"])
            XCTAssertTrue(r.stderr.contains("resuming from \(resumed.path)/ckpt-00000004.h5 after step 4"), r.stderr)
            let expected = Array(try CommandRunner.losses(full).dropFirst(4))
            XCTAssertEqual(try CommandRunner.losses(resumed), expected, "\(task) on \(mesh): steps 5-12 after resuming")
        }
    }

    /// With `rl.iterations` 3 the step-4 checkpoint falls inside a rollout (steps 4-6): it keeps the
    /// rollout, and the resumed run trains on the same completions against the same sampling policy.
    func testRLResumesInsideARolloutBitForBit() throws {
        let base = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: base) }
        for mesh in [(1, 1), (2, 1)] {
            // A small clipping range, so that the off-policy steps of each rollout clip some ratios.
            let iterations = ["--set", "rl.iterations=3", "--set", "rl.epsilon=0.0001", "--set", "train.lr=1e-3"]
            let full = base.appendingPathComponent("rl-\(mesh)-full")
            try train("rl", full, mesh: mesh, iterations)
            let resumed = try directoryWithCheckpoint4(of: full, in: base, named: "rl-\(mesh)-resumed")
            let r = try train("rl", resumed, mesh: mesh, iterations + ["--resume", "auto"])
            XCTAssertTrue(r.stderr.contains("restored rollout 2 "), r.stderr)
            let records = try CommandRunner.records(full)
            XCTAssertGreaterThan(records.map { ($0["clip_ratio"] as! NSNumber).doubleValue }.reduce(0, +), 0,
                                 "off-policy iterations clip some ratios")
            XCTAssertEqual(try CommandRunner.losses(resumed), Array(try CommandRunner.losses(full).dropFirst(4)), "rl on \(mesh)")
        }
    }

    func testCheckpointResumesOnAnotherMesh() throws {
        let base = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: base) }
        let reference = base.appendingPathComponent("1x1")
        try train("sft", reference, mesh: (1, 1))
        let expected = try CommandRunner.losses(reference)
        let onTwoByOne = base.appendingPathComponent("2x1")
        try train("sft", onTwoByOne, mesh: (2, 1))
        for (source, target) in [(reference, (2, 1)), (reference, (1, 2)), (onTwoByOne, (1, 2)), (onTwoByOne, (2, 2))] {
            let dir = try directoryWithCheckpoint4(of: source, in: base, named: "\(source.lastPathComponent)-to-\(target)")
            try train("sft", dir, mesh: target, ["--resume", dir.appendingPathComponent("ckpt-00000004.h5").path])
            let losses = try CommandRunner.losses(dir)
            XCTAssertEqual(losses.count, 8)
            for (step, (a, b)) in zip(expected.dropFirst(4), losses).enumerated() {
                XCTAssertEqual(b, a, accuracy: 1e-4 * abs(a), "\(source.lastPathComponent) -> \(target), step \(step + 5)")
            }
        }
    }

    /// `--init` reads the weights shard by shard on a model axis: SFT from a pretrained checkpoint logs the
    /// same curve on 1x2 as on 1x1, and starts below a run from scratch.
    func testInitFromPretrainedWeightsOnAModelAxis() throws {
        let base = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: base) }
        let pretrained = base.appendingPathComponent("pretrained")
        try train("pretrain", pretrained)
        let weights = pretrained.appendingPathComponent("ckpt-00000012.h5").path
        var curves: [[Double]] = []
        for mesh in [(1, 1), (1, 2)] {
            let dir = base.appendingPathComponent("sft-\(mesh.0)x\(mesh.1)")
            let r = try train("sft", dir, mesh: mesh, ["--init", weights])
            XCTAssertTrue(r.stderr.contains("training sft"), r.stderr)
            curves.append(try CommandRunner.losses(dir))
        }
        for (step, (a, b)) in zip(curves[0], curves[1]).enumerated() {
            XCTAssertEqual(b, a, accuracy: 1e-4 * abs(a), "step \(step + 1)")
        }
        let scratch = base.appendingPathComponent("sft-scratch")
        try train("sft", scratch)
        XCTAssertLessThan(curves[0][0], try CommandRunner.losses(scratch)[0])
    }

    func testSigtermSavesAndExitsZeroThenResumeFinishes() throws {
        let dir = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let process = Process()
        process.executableURL = CommandRunner.executable
        process.currentDirectoryURL = CommandRunner.root
        process.arguments = ["pretrain", "--config", "Configs/pretrain-tiny.yaml", "--set", "run.dir=\(dir.path)"]
            + CommandRunner.shortRun + ["--set", "train.steps=100000", "--set", "checkpoint.every=0"]
        process.standardError = FileHandle.nullDevice
        process.environment = CommandRunner.childEnvironment
        try process.run()
        while (try? CommandRunner.records(dir).count) ?? 0 < 3 { usleep(50_000) }
        process.terminate()  // SIGTERM
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .exit)
        XCTAssertEqual(process.terminationStatus, 0)
        let stopped = try CommandRunner.records(dir).count
        let marker = try String(contentsOf: dir.appendingPathComponent("latest"), encoding: .utf8)
        XCTAssertEqual(marker.trimmingCharacters(in: .whitespacesAndNewlines), String(format: "ckpt-%08d.h5", stopped))

        let r = try CommandRunner.inRoot {
            try CommandRunner.run(["pretrain", "--config", "Configs/pretrain-tiny.yaml", "--set", "run.dir=\(dir.path)", "--resume", "auto"]
                                  + CommandRunner.shortRun + ["--set", "train.steps=\(stopped + 2)", "--set", "checkpoint.every=0"])
        }
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try CommandRunner.records(dir).map { $0["step"] as! Int }, Array(1...(stopped + 2)))
    }

    /// SIGTERM to mpirun reaches every rank; they agree on the step to stop after, save it and resume.
    func testSigtermToATwoRankJobSavesTheSameStep() throws {
        let dir = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var launcher = ["mpirun", "-np", "2", "--oversubscribe", "--bind-to", "none", "-x", "OPENBLAS_NUM_THREADS=1"]
        if getuid() == 0 { launcher.append("--allow-run-as-root") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.currentDirectoryURL = CommandRunner.root
        process.arguments = launcher + [CommandRunner.executable.path, "pretrain", "--config", "Configs/pretrain-tiny.yaml",
                                        "--mesh", "data=2,model=1", "--set", "run.dir=\(dir.path)"]
            + CommandRunner.shortRun + ["--set", "train.steps=100000", "--set", "checkpoint.every=0"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.environment = CommandRunner.childEnvironment
        try process.run()
        while (try? CommandRunner.records(dir).count) ?? 0 < 3 { usleep(50_000) }
        process.terminate()  // SIGTERM to mpirun, which forwards it to the ranks (and itself exits non-zero)
        process.waitUntilExit()
        let stopped = try CommandRunner.records(dir).count
        let marker = try String(contentsOf: dir.appendingPathComponent("latest"), encoding: .utf8)
        XCTAssertEqual(marker.trimmingCharacters(in: .whitespacesAndNewlines), String(format: "ckpt-%08d.h5", stopped))
        let r = try CommandRunner.mpirun(2, ["pretrain", "--config", "Configs/pretrain-tiny.yaml", "--mesh", "data=2,model=1",
                                             "--set", "run.dir=\(dir.path)", "--resume", "auto"]
                                            + CommandRunner.shortRun + ["--set", "train.steps=\(stopped + 2)", "--set", "checkpoint.every=0"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try CommandRunner.records(dir).map { $0["step"] as! Int }, Array(1...(stopped + 2)))
    }

    func testDamagedNewestCheckpointFallsBackAndMismatchNamesTheField() throws {
        let dir = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try train("pretrain", dir)
        // Cut the newest checkpoint short: resume must say so and continue from step 8.
        let newest = dir.appendingPathComponent("ckpt-00000012.h5")
        let size = try FileManager.default.attributesOfItem(atPath: newest.path)[.size] as! Int
        let handle = try FileHandle(forWritingTo: newest)
        try handle.truncate(atOffset: UInt64(size / 2))
        try handle.close()
        let r = try train("pretrain", dir, ["--resume", "auto", "--set", "train.steps=13"])
        XCTAssertTrue(r.stderr.contains("ckpt-00000012.h5") && r.stderr.contains("falling back to"), r.stderr)
        XCTAssertTrue(r.stderr.contains("after step 8"), r.stderr)

        let other = try CommandRunner.mpirun(1, ["pretrain", "--config", "Configs/pretrain-tiny.yaml", "--set", "run.dir=\(dir.path)",
                                                 "--resume", "auto", "--set", "model.preset=bench"] + every4)
        XCTAssertEqual(other.status, 1)
        XCTAssertTrue(other.stderr.contains("model config: head_dim: checkpoint 32, run 64"), other.stderr)
        XCTAssertEqual(other.stderr.split(separator: "\n").filter { $0.hasPrefix("error") }.count, 1, other.stderr)
    }
}
