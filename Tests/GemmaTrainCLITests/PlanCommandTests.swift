import Foundation
import XCTest

/// `gemma-train plan` as users run it, and its peak estimate against the peak resident memory that
/// `gemma-train bench train` measures for the same config.
final class PlanCommandTests: XCTestCase {
    /// The JSON line of `plan` for `arguments`.
    func plan(_ arguments: [String]) throws -> [String: Any] {
        let r = try CommandRunner.inRoot { try CommandRunner.run(["plan", "--json"] + arguments) }
        XCTAssertEqual(r.status, 0, r.stderr)
        return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
    }

    func testTableJSONAndErrors() throws {
        let text = try CommandRunner.inRoot { try CommandRunner.run(["plan", "--config", "Configs/bench.yaml", "--mesh", "data=2,model=2",
                                                                            "--set", "train.micro_batch_size=4"]) }
        XCTAssertEqual(text.status, 0, text.stderr)
        for part in ["bench: 34087424 parameters on mesh data=2,model=2 (4 ranks)", "parameters", "gradients",
                     "optimizer state", "(ZeRO-1: 1/2 of the moments)", "activations", "peak estimate", "model axis", "data axis"] {
            XCTAssertTrue(text.stdout.contains(part), "'\(part)' missing from:\n\(text.stdout)")
        }
        let json = try plan(["--config", "Configs/bench.yaml", "--set", "train.recompute=block"])
        XCTAssertEqual(json["recompute"] as? String, "block")
        XCTAssertEqual(json["parameters_bytes"] as? Int, 4 * 34_087_424)

        let bad = try CommandRunner.inRoot { try CommandRunner.run(["plan", "--config", "Configs/bench.yaml", "--mesh", "model=3"]) }
        XCTAssertEqual(bad.status, 1)
        XCTAssertEqual(bad.stderr.split(separator: "\n").count, 1, bad.stderr)
        XCTAssertTrue(bad.stderr.hasPrefix("error: ") && bad.stderr.contains("num_attention_heads (8) is not a multiple of mesh.model (3)"), bad.stderr)
    }

    /// The tiny pretraining config on 1x1 with and without recomputation, and on 2x1 and 1x2, without and
    /// with LoRA (on a Float32 and on a bf16 base): the plan's peak is within 15% of the largest rank's
    /// measured peak resident set.
    func testPeakWithinFifteenPercentOfMeasured() throws {
        let dir = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = dir.appendingPathComponent("base.h5").path
        let made = try CommandRunner.inRoot {
            try CommandRunner.run(["init-model", "--preset", "tiny", "--tokenizer", "Configs/tokenizer/demo.model", "--out", base])
        }
        XCTAssertEqual(made.status, 0, made.stderr)
        let settings = CommandRunner.shortRun + ["--set", "train.steps=4", "--set", "run.dir=\(dir.path)"]
        let lora = ["--set", "model.init=\(base)", "--set", "model.lora.rank=8"]
        for (data, model, recompute, extra) in [(1, 1, "none", []), (1, 1, "block", []), (2, 1, "none", []), (1, 2, "block", []),
                                                 (1, 1, "none", lora), (2, 1, "block", lora + ["--set", "model.frozen_dtype=bf16"]),
                                                 (1, 2, "none", lora + ["--set", "model.frozen_dtype=bf16"])] {
            let arguments = ["--config", "Configs/pretrain-tiny.yaml", "--mesh", "data=\(data),model=\(model)",
                             "--set", "train.recompute=\(recompute)"] + settings + extra
            let r = try CommandRunner.mpirun(data * model, ["bench", "train", "--warmup", "1"] + arguments)
            XCTAssertEqual(r.status, 0, r.stderr)
            let measured = try JSONSerialization.jsonObject(with: Data(r.stdout.split(separator: "\n").last!.utf8)) as! [String: Any]
            let measuredBytes = (measured["peak_rss_mib"] as! NSNumber).doubleValue * 1_048_576
            let planned = (try plan(arguments)["peak_bytes"] as! NSNumber).doubleValue
            XCTAssertEqual(planned, measuredBytes, accuracy: 0.15 * measuredBytes,
                           "\(data)x\(model) recompute \(recompute) \(extra): planned \(planned / 1_048_576) MiB, measured \(measuredBytes / 1_048_576) MiB")
        }
    }
}
