import Foundation
import XCTest

/// Training under `mpirun` the way users launch it: the same config gives the same loss curve on every
/// mesh, and a failing rank ends the whole job.
final class MeshRunTests: XCTestCase {
    func mpirun(_ ranks: Int, _ arguments: [String], environment: [String: String] = [:]) throws -> CommandRunner.Result {
        try CommandRunner.mpirun(ranks, arguments, environment: environment)
    }

    let short = CommandRunner.shortRun + ["--set", "train.steps=20", "--set", "checkpoint.every=0"]

    func losses(_ dir: URL) throws -> [Double] { try CommandRunner.losses(dir) }

    func testSameCurveOnEveryMesh() throws {
        let base = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: base) }
        for task in ["sft", "pretrain", "reward", "dpo"] {
            var reference: [Double]?
            for (data, model, zero) in [(1, 1, true), (2, 1, true), (1, 2, true), (2, 2, true), (2, 1, false)] {
                let dir = base.appendingPathComponent("\(task)-\(data)x\(model)-\(zero)")
                let r = try mpirun(data * model, [task, "--config", "Configs/\(task)-tiny.yaml", "--mesh", "data=\(data),model=\(model)",
                                                  "--set", "run.dir=\(dir.path)", "--set", "mesh.zero=\(zero)"] + short
                                                 + CommandRunner.taskData(task))
                XCTAssertEqual(r.status, 0, "\(task) \(data)x\(model): \(r.stderr)")
                let curve = try losses(dir)
                XCTAssertEqual(curve.count, 20, "\(task) \(data)x\(model)")
                guard let reference else { reference = curve; continue }
                for (step, (a, b)) in zip(reference, curve).enumerated() {
                    XCTAssertEqual(b, a, accuracy: 1e-4 * abs(a), "\(task) mesh \(data)x\(model) zero=\(zero) step \(step + 1)")
                }
            }
        }
    }

    /// RL on every mesh: the same completions (as rank 0 logs them in `samples.jsonl`: its first prompts
    /// at steps 1 and 10; each token's random stream depends on (seed, rollout, prompt, sample) only), and
    /// per step the same mean reward, gradient norm and loss. Here every completion runs to
    /// `rl.max_new_tokens` (a random policy never closes its turn), so RLOO's on-policy loss, −Σ A·len / N
    /// with leave-one-out advantages that sum to zero per prompt, is zero up to rounding: it is compared
    /// within 1e-6 absolute, the reward and gradient norm within 1e-4 relative. Later steps can part after
    /// one token drawn differently from logits that differ by re-association (a near-uniform policy has
    /// 4096 close boundaries), which is why the first 10 steps are compared.
    func testRLDrawsTheSameCompletionsOnEveryMesh() throws {
        let base = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: base) }
        func texts(_ dir: URL) throws -> [String] {
            try String(contentsOf: dir.appendingPathComponent("samples.jsonl"), encoding: .utf8).split(separator: "\n").flatMap { entry in
                let json = try JSONSerialization.jsonObject(with: Data(entry.utf8)) as! [String: Any]
                return (json["prompts"] as! [[String: Any]]).flatMap { ($0["completions"] as! [[String: Any]]).map { $0["text"] as! String } }
            }
        }
        func metric(_ dir: URL, _ key: String) throws -> [Double] {
            try CommandRunner.records(dir).map { ($0[key] as! NSNumber).doubleValue }
        }
        let reference = base.appendingPathComponent("1x1")
        for (data, model) in [(1, 1), (2, 1), (1, 2), (2, 2)] {
            let dir = base.appendingPathComponent("\(data)x\(model)")
            let r = try mpirun(data * model, ["rl", "--config", "Configs/rl-tiny.yaml", "--mesh", "data=\(data),model=\(model)",
                                              "--set", "run.dir=\(dir.path)"] + CommandRunner.shortRun
                                             + ["--set", "train.steps=10", "--set", "checkpoint.every=0"] + CommandRunner.taskData("rl"))
            XCTAssertEqual(r.status, 0, "\(data)x\(model): \(r.stderr)")
            XCTAssertEqual(try metric(dir, "loss").count, 10)
            guard data * model > 1 else { continue }
            let expected = try texts(reference)
            XCTAssertEqual(expected.count, 2 * 8)
            XCTAssertEqual(try texts(dir), expected, "\(data)x\(model)")
            for key in ["reward", "grad_norm", "loss"] {
                for (step, (a, b)) in zip(try metric(reference, key), try metric(dir, key)).enumerated() {
                    XCTAssertEqual(b, a, accuracy: key == "loss" ? 1e-6 : 1e-4 * abs(a), "\(key) on \(data)x\(model), step \(step + 1)")
                }
            }
        }
    }

    func testFailingRankEndsTheJobQuickly() throws {
        let dir = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let start = Date()
        let r = try mpirun(2, ["sft", "--config", "Configs/sft-tiny.yaml", "--mesh", "data=2,model=1",
                               "--set", "run.dir=\(dir.path)"] + short, environment: ["GEMMA_TRAIN_FAULT": "1:3"])
        let seconds = Date().timeIntervalSince(start)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertLessThan(seconds, 30)
        XCTAssertTrue(r.stderr.contains("rank 1: error: step 3: fault injected"), r.stderr)
    }

    func testNonFiniteLossIsSkippedOnEveryRankOrEndsTheJob() throws {
        let dir = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = ["pretrain", "--config", "Configs/pretrain-tiny.yaml", "--mesh", "data=2,model=1", "--set", "run.dir=\(dir.path)"] + short
        let skipped = try mpirun(2, base + ["--set", "train.nan_policy=skip"], environment: ["GEMMA_TRAIN_FAULT": "1:3:nan"])
        XCTAssertEqual(skipped.status, 0, skipped.stderr)
        XCTAssertTrue(skipped.stdout.contains("step 3: non-finite loss nan") && skipped.stdout.contains("step skipped (1 so far)"),
                      skipped.stdout)
        let steps = try CommandRunner.records(dir).map { $0["step"] as! Int }
        XCTAssertEqual(steps, [1, 2] + Array(4...20))

        let fresh = ["--set", "run.dir=\(dir.path)/abort"]
        let aborted = try mpirun(2, base + fresh + ["--set", "train.nan_policy=abort"], environment: ["GEMMA_TRAIN_FAULT": "1:3:nan"])
        XCTAssertNotEqual(aborted.status, 0)
        XCTAssertTrue(aborted.stderr.contains("error: step 3: non-finite loss nan"), aborted.stderr)
    }

    func testSkippingGivesUpAndRuinedWeightsAreNeverSaved() throws {
        let dir = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = ["pretrain", "--config", "Configs/pretrain-tiny.yaml", "--mesh", "data=2,model=1",
                    "--set", "train.nan_policy=skip"] + short + ["--set", "checkpoint.every=4"]
        // Rank 1's loss share is NaN from step 6 on: skipped 3 times in a row, then the run ends without
        // saving, and the checkpoint of step 4 stays the newest.
        let skipping = try mpirun(2, base + ["--set", "run.dir=\(dir.path)/skip", "--set", "train.max_skipped_steps=3"],
                                  environment: ["GEMMA_TRAIN_FAULT": "1:6-20:nan"])
        XCTAssertNotEqual(skipping.status, 0)
        XCTAssertTrue(skipping.stderr.contains("error: steps 6-8: 3 non-finite steps in a row (train.max_skipped_steps 3); stopping without saving, the last checkpoint is"), skipping.stderr)
        XCTAssertEqual(try String(contentsOfFile: "\(dir.path)/skip/latest", encoding: .utf8), "ckpt-00000004.h5\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(dir.path)/skip/ckpt-00000008.h5"))
        // Rank 1's weights turn NaN after the update of step 4: the checkpoint of step 4 is refused.
        let ruined = try mpirun(2, base + ["--set", "run.dir=\(dir.path)/ruined"], environment: ["GEMMA_TRAIN_FAULT": "1:4:nan-weights"])
        XCTAssertNotEqual(ruined.status, 0)
        // Every rank refuses; whichever reports first names the parameter (rank 1) or "another rank" (rank 0).
        XCTAssertTrue(ruined.stderr.contains("error: step 4: the parameters are not finite (model.embed_tokens.weight on rank 1); no checkpoint")
                      || ruined.stderr.contains("error: step 4: the parameters are not finite on another rank; no checkpoint"), ruined.stderr)
        let left = try FileManager.default.contentsOfDirectory(atPath: "\(dir.path)/ruined")
        XCTAssertFalse(left.contains { $0.hasPrefix("ckpt-") || $0 == "latest" }, "\(left)")
    }

    func testMeshThatDoesNotFitTheJobIsAnError() throws {
        let r = try mpirun(2, ["sft", "--config", "Configs/sft-tiny.yaml", "--mesh", "data=2,model=2"] + short)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("needs 4 ranks, but the job has 2"), r.stderr)
    }

    func testHeadsThatDoNotSplitNameTheKey() throws {
        let r = try mpirun(3, ["sft", "--config", "Configs/sft-tiny.yaml", "--mesh", "data=1,model=3"] + short)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("num_attention_heads (4) is not a multiple of mesh.model (3)"), r.stderr)
    }
}
