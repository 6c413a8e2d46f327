import Checkpoint
import Foundation
import XCTest

/// `train.recompute: block` as users run it: the same run, bit for bit, on one process and on a mesh
/// split over `model` (whose blocks replay their all-reduces in backward), and a resumed run too.
final class RecomputeRunTests: XCTestCase {
    let every4 = CommandRunner.shortRun + ["--set", "train.steps=12", "--set", "checkpoint.every=4", "--set", "checkpoint.keep=0"]

    /// `task` for 12 steps on `mesh` into `dir` with `train.recompute=recompute`, plus `extra` arguments.
    @discardableResult
    func train(_ task: String, _ dir: URL, mesh: (Int, Int), recompute: String, _ extra: [String] = []) throws -> CommandRunner.Result {
        let arguments = [task, "--config", "Configs/\(task)-tiny.yaml", "--set", "run.dir=\(dir.path)",
                         "--mesh", "data=\(mesh.0),model=\(mesh.1)", "--set", "train.recompute=\(recompute)"]
            + every4 + CommandRunner.taskData(task) + extra
        let r = try CommandRunner.mpirun(mesh.0 * mesh.1, arguments)
        XCTAssertEqual(r.status, 0, "\(task) \(mesh) recompute \(recompute): \(r.stderr)")
        return r
    }

    /// Every record of `metrics.jsonl` without its timings (`elapsed_s`, every `…_per_s`).
    func records(_ dir: URL) throws -> [NSDictionary] {
        try CommandRunner.records(dir).map { record in
            record.filter { !$0.key.hasSuffix("_per_s") && $0.key != "elapsed_s" } as NSDictionary
        }
    }

    /// The bit patterns of every parameter and AdamW moment in a checkpoint, by dataset.
    func tensors(_ checkpoint: URL) throws -> [String: [UInt32]] {
        let file = try H5File.open(checkpoint.path)
        var out: [String: [UInt32]] = [:]
        for group in ["/params", "/optimizer/m", "/optimizer/v"] {
            for name in try file.datasets(under: group) { out[name] = try file.readFloats(name).values.map(\.bitPattern) }
        }
        return out
    }

    /// Losses, gradient norms and the final parameters and moments of a run with recomputation equal the
    /// run without, bit for bit: pretraining and DPO on one process, SFT, the reward model and RL on
    /// `model=2` (kv heads shared by the two ranks). Resumed with recomputation from the step-4 checkpoint of either
    /// run, a run logs the same steps 5-12.
    func testSameRunBitForBitAndResumed() throws {
        let base = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: base) }
        for (task, mesh) in [("pretrain", (1, 1)), ("sft", (1, 2)), ("reward", (1, 2)), ("dpo", (1, 1)), ("rl", (1, 2))] {
            let name = "\(task)-\(mesh.0)x\(mesh.1)"
            let kept = base.appendingPathComponent("\(name)-none"), replayed = base.appendingPathComponent("\(name)-block")
            try train(task, kept, mesh: mesh, recompute: "none")
            let log = try train(task, replayed, mesh: mesh, recompute: "block")
            XCTAssertTrue((log.stdout + log.stderr).contains("recomputing each decoder block in backward"), name)
            let expected = try records(kept)
            XCTAssertEqual(expected.count, 12, name)
            XCTAssertEqual(try records(replayed), expected, name)
            let last = "ckpt-00000012.h5"
            let (a, b) = (try tensors(kept.appendingPathComponent(last)), try tensors(replayed.appendingPathComponent(last)))
            XCTAssertGreaterThan(a.count, 3 * 10, name)
            XCTAssertEqual(Set(b.keys), Set(a.keys), name)
            for (dataset, values) in a where b[dataset] != values { XCTFail("\(name): \(dataset) differs") }

            for source in [kept, replayed] {
                let resumed = base.appendingPathComponent("\(name)-resumed-from-\(source.lastPathComponent)")
                try FileManager.default.createDirectory(at: resumed, withIntermediateDirectories: true)
                try FileManager.default.copyItem(at: source.appendingPathComponent("ckpt-00000004.h5"),
                                                 to: resumed.appendingPathComponent("ckpt-00000004.h5"))
                try train(task, resumed, mesh: mesh, recompute: "block", ["--resume", "auto"])
                XCTAssertEqual(try records(resumed), Array(expected.dropFirst(4)), "\(name) resumed from \(source.lastPathComponent)")
            }
        }
    }

    func testUnknownRecomputeIsOneLine() throws {
        let r = try CommandRunner.inRoot {
            try CommandRunner.run(["pretrain", "--config", "Configs/pretrain-tiny.yaml", "--set", "train.recompute=layers"])
        }
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("train.recompute") && r.stderr.contains("none, block"), r.stderr)
    }
}
