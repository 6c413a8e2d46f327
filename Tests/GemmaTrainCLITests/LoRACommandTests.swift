import Foundation
import XCTest

/// LoRA as a user runs it: `sft` with `model.lora` on a tiny base, then `inspect`, `eval loss`, `generate`
/// and `chat` on the LoRA checkpoint, `convert --adapter` and `--merge` (the merged directory evaluates the same), a run
/// starting from the exported adapter, and one-line errors.
final class LoRACommandTests: TinyModelTestCase {
    func testLoRARunEvaluateGenerateConvert() throws {
        let run = dir.appendingPathComponent("run")
        let lora = ["--set", "model.init=\(model)", "--set", "model.lora.rank=4", "--set", "model.lora.targets=[q_proj, v_proj, down_proj]"]
        let trained = try CommandRunner.inRoot {
            try CommandRunner.run(["sft", "--config", "Configs/sft-tiny.yaml", "--set", "run.dir=\(run.path)", "--set", "train.steps=3"]
                                  + CommandRunner.shortRun + lora)
        }
        XCTAssertEqual(trained.status, 0, trained.stderr)
        XCTAssertTrue(trained.stderr.contains("trainable parameters") && trained.stderr.contains("LoRA rank 4"), trained.stderr)
        let checkpoint = run.appendingPathComponent("ckpt-00000003.h5").path

        let inspected = try CommandRunner.run(["inspect", checkpoint])
        XCTAssertEqual(inspected.status, 0, inspected.stderr)
        XCTAssertTrue(inspected.stdout.contains("lora:") && inspected.stdout.contains("rank 4") && inspected.stdout.contains(model),
                      inspected.stdout)

        let data = CommandRunner.root.appendingPathComponent("Configs/data/sft-eval.jsonl").path
        let evaluated = try CommandRunner.run(["eval", "loss", "--checkpoint", checkpoint, "--data", data, "--format", "chat"])
        XCTAssertEqual(evaluated.status, 0, evaluated.stderr)
        let generated = try CommandRunner.run(["generate", "--checkpoint", checkpoint, "--prompt", "Hello", "--max-tokens", "4"])
        XCTAssertEqual(generated.status, 0, generated.stderr)
        let chatted = try CommandRunner.run(["chat", "--checkpoint", checkpoint, "--max-tokens", "4", "--temperature", "0"], stdin: "Hello\n")
        XCTAssertEqual(chatted.status, 0, chatted.stderr)

        let adapter = dir.appendingPathComponent("adapter").path
        let exported = try CommandRunner.run(["convert", "--from", checkpoint, "--to", adapter, "--adapter"])
        XCTAssertEqual(exported.status, 0, exported.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: adapter).sorted(),
                       ["adapter_config.json", "adapter_model.safetensors"])
        let merged = dir.appendingPathComponent("merged").path
        let converted = try CommandRunner.run(["convert", "--from", checkpoint, "--to", merged, "--merge"])
        XCTAssertEqual(converted.status, 0, converted.stderr)
        let mergedEval = try CommandRunner.run(["eval", "loss", "--checkpoint", merged, "--data", data, "--format", "chat"])
        XCTAssertEqual(mergedEval.status, 0, mergedEval.stderr)
        XCTAssertEqual(mergedEval.stdout, evaluated.stdout)

        // A new run starts from the exported adapter.
        let continued = try CommandRunner.inRoot {
            try CommandRunner.run(["sft", "--config", "Configs/sft-tiny.yaml", "--set", "run.dir=\(dir.appendingPathComponent("again").path)",
                                   "--set", "train.steps=2", "--set", "model.lora.init=\(adapter)"] + CommandRunner.shortRun + lora)
        }
        XCTAssertEqual(continued.status, 0, continued.stderr)
    }

    /// pretrain, dpo and rl share the trainer: each runs 2 steps with LoRA and reports its trainable
    /// parameters; rl uses the policy's base as its reference.
    func testEveryTaskRunsWithLoRA() throws {
        for task in ["pretrain", "dpo", "rl"] {
            let initial = task == "rl" ? [] : ["--set", "model.init=\(model)"]
            let r = try CommandRunner.inRoot {
                try CommandRunner.run([task, "--config", "Configs/\(task)-tiny.yaml", "--set", "run.dir=\(dir.appendingPathComponent(task).path)",
                                       "--set", "train.steps=2", "--set", "model.lora.rank=2"]
                                      + CommandRunner.shortRun + CommandRunner.taskData(task) + initial)
            }
            XCTAssertEqual(r.status, 0, "\(task): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("LoRA rank 2"), "\(task): \(r.stderr)")
            if task == "rl" {  // the reference is the policy's base: at step 1 (B = 0) the policy is the reference
                XCTAssertTrue(r.stderr.contains("reference: the LoRA policy's frozen base"), r.stderr)
                XCTAssertEqual(try CommandRunner.records(dir.appendingPathComponent(task)).first?["kl"] as? Double, 0)
            }
        }
    }

    /// LoRA SFT on every mesh (a data axis with ZeRO-1 over the adapters' state or all-reduced adapter
    /// gradients; a model axis with the adapters split as their weights, the tiny model's one kv head
    /// shared) logs the one-process curve (1e-4 relative), as the mesh tests require of full training.
    func testSameLoRACurveOnEveryMesh() throws {
        var reference: [Double]?
        for (data, modelAxis, zero) in [(1, 1, true), (2, 1, true), (2, 1, false), (1, 2, true), (2, 2, true)] {
            let run = dir.appendingPathComponent("mesh-\(data)x\(modelAxis)-\(zero)")
            let r = try CommandRunner.mpirun(data * modelAxis, ["sft", "--config", "Configs/sft-tiny.yaml", "--mesh", "data=\(data),model=\(modelAxis)",
                                                    "--set", "run.dir=\(run.path)", "--set", "mesh.zero=\(zero)", "--set", "train.steps=10",
                                                    "--set", "model.init=\(model)", "--set", "model.lora.rank=4", "--set", "train.lr=1e-2"]
                                             + CommandRunner.shortRun)
            XCTAssertEqual(r.status, 0, "\(data)x\(modelAxis) zero=\(zero): \(r.stderr)")
            let curve = try CommandRunner.losses(run)
            XCTAssertEqual(curve.count, 10)
            guard let reference else { reference = curve; continue }
            for (step, (a, b)) in zip(reference, curve).enumerated() {
                XCTAssertEqual(b, a, accuracy: 1e-4 * abs(a), "\(data)x\(modelAxis) zero=\(zero) step \(step + 1)")
            }
            XCTAssertNotEqual(curve.first, curve.last)
        }
    }

    func testBadLoRAInputIsOneLine() throws {
        let notLoRA = try CommandRunner.run(["convert", "--from", model, "--to", dir.appendingPathComponent("x").path, "--adapter"])
        XCTAssertEqual(notLoRA.status, 1)
        XCTAssertTrue(notLoRA.stderr.contains("holds no LoRA adapters"), notLoRA.stderr)
        XCTAssertEqual(notLoRA.stderr.split(separator: "\n").count, 1, notLoRA.stderr)

        let badTarget = try CommandRunner.inRoot {
            try CommandRunner.run(["sft", "--config", "Configs/sft-tiny.yaml", "--set", "model.init=\(model)",
                                   "--set", "model.lora.rank=4", "--set", "model.lora.targets=[qproj]"])
        }
        XCTAssertEqual(badTarget.status, 1)
        XCTAssertTrue(badTarget.stderr.contains("model.lora.targets"), badTarget.stderr)
        XCTAssertEqual(badTarget.stderr.split(separator: "\n").count, 1, badTarget.stderr)

        let noAdapter = try CommandRunner.inRoot {
            try CommandRunner.run(["sft", "--config", "Configs/sft-tiny.yaml", "--set", "run.dir=\(dir.appendingPathComponent("r").path)",
                                   "--set", "model.init=\(model)", "--set", "model.lora.rank=4", "--set", "model.lora.init=\(dir.path)"]
                                  + CommandRunner.shortRun)
        }
        XCTAssertEqual(noAdapter.status, 1)
        XCTAssertTrue(noAdapter.stderr.contains("model.lora.init") && noAdapter.stderr.contains("adapter_config.json"), noAdapter.stderr)
    }
}

/// `model.frozen_dtype: bf16` as users run it.
final class FrozenBFloat16CommandTests: TinyModelTestCase {
    /// LoRA SFT with a bf16 base: its curve stays near the Float32 base's (the base differs by rounding
    /// only); the same on 1x1 and 1x2, where the bf16 base is split over the model axis (1e-4); the 1x2
    /// checkpoint evaluates whole and split alike; the checkpoint names the dtype, evaluates, and resumes
    /// bit for bit; without LoRA it is one line.
    func testBFloat16BaseTrainsResumesAndEvaluates() throws {
        let every4 = CommandRunner.shortRun + ["--set", "train.steps=8", "--set", "checkpoint.every=4", "--set", "checkpoint.keep=0",
                                               "--set", "model.init=\(model)", "--set", "model.lora.rank=4", "--set", "train.lr=1e-2"]
        func sft(_ name: String, mesh: (Int, Int) = (1, 1), _ extra: [String] = []) throws -> (URL, [Double], String) {
            let run = dir.appendingPathComponent(name)
            let r = try CommandRunner.mpirun(mesh.0 * mesh.1, ["sft", "--config", "Configs/sft-tiny.yaml", "--mesh", "data=\(mesh.0),model=\(mesh.1)",
                                                               "--set", "run.dir=\(run.path)"] + every4 + extra)
            XCTAssertEqual(r.status, 0, "\(name): \(r.stderr)")
            return (run, try CommandRunner.losses(run), r.stderr)
        }
        let bf16 = ["--set", "model.frozen_dtype=bf16"]
        let (_, f32Curve, _) = try sft("f32")
        let (run, curve, log) = try sft("bf16", bf16)
        XCTAssertTrue(log.contains("base frozen, stored as bf16"), log)
        XCTAssertEqual(curve.count, 8)
        XCTAssertNotEqual(curve, f32Curve)
        for (a, b) in zip(f32Curve, curve) { XCTAssertEqual(b, a, accuracy: 2e-2 * abs(a)) }
        let (splitRun, split, _) = try sft("bf16-1x2", mesh: (1, 2), bf16)
        for (step, (a, b)) in zip(curve, split).enumerated() { XCTAssertEqual(b, a, accuracy: 1e-4 * abs(a), "1x2 step \(step + 1)") }

        // The split run's checkpoint loads on one process (merged) and split over model=2 (adapted): the
        // base checksum does not depend on the mesh, and both give the same log-probs.
        let data = CommandRunner.root.appendingPathComponent("Configs/data/sft-eval.jsonl").path
        let logprobs = ["eval", "logprobs", "--checkpoint", splitRun.appendingPathComponent("ckpt-00000008.h5").path, "--data", data, "--format", "chat"]
        let whole = try CommandRunner.run(logprobs)
        let sharded = try CommandRunner.mpirun(2, logprobs + ["--mesh", "data=1,model=2"])
        XCTAssertEqual(whole.status, 0, whole.stderr)
        XCTAssertEqual(sharded.status, 0, sharded.stderr)
        let rows = { (text: String) in text.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] } }
        let (a, b) = (rows(whole.stdout), rows(sharded.stdout))
        XCTAssertEqual(a.count, b.count)
        XCTAssertGreaterThan(a.count, 0)
        for (x, y) in zip(a, b) {
            XCTAssertEqual(x["tokens"] as? Int, y["tokens"] as? Int)
            XCTAssertEqual((x["logp"] as! NSNumber).doubleValue, (y["logp"] as! NSNumber).doubleValue, accuracy: 1e-3)
        }

        let resumed = dir.appendingPathComponent("bf16-resumed")
        try FileManager.default.createDirectory(at: resumed, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: run.appendingPathComponent("ckpt-00000004.h5"), to: resumed.appendingPathComponent("ckpt-00000004.h5"))
        _ = try sft("bf16-resumed", bf16 + ["--resume", "auto"])
        XCTAssertEqual(try CommandRunner.losses(resumed), Array(curve.dropFirst(4)))

        let checkpoint = run.appendingPathComponent("ckpt-00000008.h5").path
        let inspected = try CommandRunner.run(["inspect", checkpoint])
        XCTAssertTrue(inspected.stdout.contains("stored as bf16"), inspected.stdout)
        let evaluated = try CommandRunner.run(["eval", "loss", "--checkpoint", checkpoint, "--data", data, "--format", "chat"])
        XCTAssertEqual(evaluated.status, 0, evaluated.stderr)
        // On one process a bf16 checkpoint runs unmerged (no Float32 copy of the base): the same loss as
        // its merged export, up to rounding, and it generates.
        let merged = dir.appendingPathComponent("bf16-merged").path
        XCTAssertEqual(try CommandRunner.run(["convert", "--from", checkpoint, "--to", merged, "--merge"]).status, 0)
        let mergedEval = try CommandRunner.run(["eval", "loss", "--checkpoint", merged, "--data", data, "--format", "chat"])
        let loss = { (text: String) in ((try! JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any])["loss"] as! NSNumber).doubleValue }
        XCTAssertEqual(loss(evaluated.stdout), loss(mergedEval.stdout), accuracy: 1e-5 * loss(mergedEval.stdout))
        let generated = try CommandRunner.run(["generate", "--checkpoint", checkpoint, "--prompt", "Hello", "--max-tokens", "4"])
        XCTAssertEqual(generated.status, 0, generated.stderr)

        let notLoRA = try CommandRunner.inRoot {
            try CommandRunner.run(["sft", "--config", "Configs/sft-tiny.yaml", "--set", "model.init=\(model)", "--set", "model.frozen_dtype=bf16"])
        }
        XCTAssertEqual(notLoRA.status, 1)
        XCTAssertTrue(notLoRA.stderr.contains("model.frozen_dtype") && notLoRA.stderr.contains("model.lora"), notLoRA.stderr)
        XCTAssertEqual(notLoRA.stderr.split(separator: "\n").count, 1, notLoRA.stderr)
    }
}
