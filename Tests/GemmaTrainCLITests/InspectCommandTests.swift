import Foundation
import Gemma
import Training
import XCTest

/// `gemma-train inspect` on good and damaged files, and `init-model` killed mid-save.
final class InspectCommandTests: TinyModelTestCase {

    func testInspectAGoodModelFile() throws {
        let text = try CommandRunner.run(["inspect", model])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("version: 1 (model file: no training state)"), text.stdout)
        XCTAssertTrue(text.stdout.contains("kind:    causal-lm"), text.stdout)
        XCTAssertTrue(text.stdout.contains("num_hidden_layers 4"), text.stdout)
        XCTAssertTrue(text.stdout.contains("/params/model.embed_tokens.weight"), text.stdout)
        XCTAssertTrue(text.stdout.contains("39 datasets, all checksums ok"), text.stdout)

        let json = try CommandRunner.run(["inspect", "--json", model])
        XCTAssertEqual(json.status, 0, json.stderr)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["version"] as? String, "1")
        XCTAssertEqual(object["ok"] as? Bool, true)
        XCTAssertNil(object["step"])
        XCTAssertEqual((object["model_config"] as? [String: Any])?["num_hidden_layers"] as? Int, 4)
        let datasets = try XCTUnwrap(object["datasets"] as? [[String: Any]])
        XCTAssertEqual(datasets.count, 39)
        let norm = try XCTUnwrap(datasets.first { $0["path"] as? String == "/params/model.norm.weight" })
        XCTAssertEqual(norm["shape"] as? [Int], [128])
        XCTAssertEqual(norm["status"] as? String, "ok")
    }

    func testInspectATrainingCheckpoint() throws {
        let file = dir.appendingPathComponent("ckpt-00000012.h5").path
        let config = GemmaConfig.presets["tiny"]!
        let writer = try CheckpointWriter(path: file)
        for group in TensorGroup.allCases {
            try [Float](repeating: 0.5, count: config.hiddenSize).withUnsafeBufferPointer {
                try writer.write(group, name: "model.norm.weight", shape: [config.hiddenSize], values: $0)
            }
        }
        let state = CheckpointState(
            kind: .causalLM, modelConfig: try config.jsonText(), step: 12, tokensSeen: 6144,
            optimizer: .init(step: 12, learningRate: 3e-4, beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.01),
            data: .init(seed: 7, epoch: 1, nextIndex: 96), scheduleStep: 12, randomness: .init(seed: 7),
            runConfig: "run: {seed: 7}\n", mesh: .init(data: 2, model: 1), created: "2026-11-26T17:40:00Z",
            codeRevision: "abc123")
        try writer.commit(state: state, tokenizer: [1, 2, 3])

        let text = try CommandRunner.run(["inspect", file])
        XCTAssertEqual(text.status, 0, text.stderr)
        for line in ["version:       2 (training checkpoint)", "step:          12", "tokens seen:   6144",
                     "mesh:          data=2,model=1", "created:       2026-11-26T17:40:00Z", "code revision: abc123",
                     "optimizer:     adamw step 12, lr 0.0003, beta1 0.9, beta2 0.95, eps 1e-08, weight_decay 0.01",
                     "data cursor:   seed 7, epoch 1, next index 96", "5 datasets, all checksums ok"] {
            XCTAssertTrue(text.stdout.contains(line), "\(line) missing from\n\(text.stdout)")
        }
        let json = try CommandRunner.run(["inspect", "--json", file])
        XCTAssertEqual(json.status, 0, json.stderr)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["step"] as? Int, 12)
        XCTAssertEqual(object["mesh"] as? [String: Int], ["data": 2, "model": 1])
        XCTAssertEqual((object["optimizer"] as? [String: Any])?["lr"] as? Double, 0.0003)
        XCTAssertEqual(object["code_revision"] as? String, "abc123")
        XCTAssertEqual((object["datasets"] as? [[String: Any]])?.map { $0["path"] as? String },
                       ["/objective/model.norm.weight", "/optimizer/m/model.norm.weight", "/optimizer/v/model.norm.weight",
                        "/params/model.norm.weight", "/tokenizer/model"])
    }

    func testInspectACorruptedFileFailsNamingTheDataset() throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: model)))
        // Three quarters into the file lies a layer's weights (tensors fill nearly all of it).
        let offset = bytes.count * 3 / 4
        bytes[offset] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: model))

        let text = try CommandRunner.run(["inspect", model])
        XCTAssertEqual(text.status, 1, text.stdout + text.stderr)
        let failed = text.stdout.split(separator: "\n").filter { $0.contains("FAILED") }
        XCTAssertEqual(failed.count, 2, text.stdout)  // the dataset's line and the summary
        XCTAssertTrue(failed[0].contains("/params/") && failed[0].contains("checksum mismatch"), String(failed[0]))
        XCTAssertTrue(text.stdout.hasSuffix("1 of 39 datasets FAILED\n"), text.stdout)

        let json = try CommandRunner.run(["inspect", "--json", model])
        XCTAssertEqual(json.status, 1)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["ok"] as? Bool, false)
        let bad = (object["datasets"] as? [[String: Any]] ?? []).filter { $0["status"] as? String == "FAILED" }
        XCTAssertEqual(bad.count, 1)
        XCTAssertTrue((bad.first?["error"] as? String ?? "").contains("checksum mismatch"), "\(bad)")

        try Data(bytes.prefix(bytes.count / 2)).write(to: URL(fileURLWithPath: model))
        let truncated = try CommandRunner.run(["inspect", model])
        XCTAssertEqual(truncated.status, 1)
        XCTAssertTrue(truncated.stderr.hasPrefix("error: \(model): "), truncated.stderr)
        XCTAssertTrue(truncated.stderr.contains("truncated file"), truncated.stderr)
        XCTAssertEqual(truncated.stderr.split(separator: "\n").count, 1, truncated.stderr)
    }

    /// The hidden `verify-checkpoint` that `--resume` runs as a child for each candidate: exit 0 for a
    /// good checkpoint, else exit 1 with one `error:` line naming the file and the reason.
    func testVerifyCheckpointExitsZeroOnlyForAResumableCheckpoint() throws {
        let file = dir.appendingPathComponent("ckpt-00000001.h5").path
        let config = GemmaConfig.presets["tiny"]!
        let writer = try CheckpointWriter(path: file)
        for group in TensorGroup.allCases {
            try [Float](repeating: 0.25, count: config.hiddenSize).withUnsafeBufferPointer {
                try writer.write(group, name: "model.norm.weight", shape: [config.hiddenSize], values: $0)
            }
        }
        try writer.commit(state: CheckpointState(
            kind: .causalLM, modelConfig: try config.jsonText(), step: 1, tokensSeen: 64,
            optimizer: .init(step: 1, learningRate: 1e-3, beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0),
            data: .init(seed: 1, epoch: 0, nextIndex: 8), scheduleStep: 1, randomness: .init(seed: 1), runConfig: "",
            mesh: .init(data: 1, model: 1)), tokenizer: [1])
        let good = try CommandRunner.run(["verify-checkpoint", file])
        XCTAssertEqual(good.status, 0, good.stderr)
        XCTAssertEqual(good.stderr, "")

        let modelFile = try CommandRunner.run(["verify-checkpoint", model])
        XCTAssertEqual(modelFile.status, 1)
        XCTAssertEqual(modelFile.stderr.split(separator: "\n").count, 1, modelFile.stderr)
        XCTAssertTrue(modelFile.stderr.hasPrefix("error: \(model): a version 1 model file without training state"), modelFile.stderr)

        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
        let values = [Float](repeating: 0.25, count: 4).withUnsafeBytes { Array($0) }
        let start = try XCTUnwrap((0...(bytes.count - values.count)).first { bytes[$0..<($0 + values.count)].elementsEqual(values) })
        bytes[start + 1] ^= 0x10
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        let damaged = try CommandRunner.run(["verify-checkpoint", file])
        XCTAssertEqual(damaged.status, 1)
        XCTAssertEqual(damaged.stderr.split(separator: "\n").count, 1, damaged.stderr)
        XCTAssertTrue(damaged.stderr.hasPrefix("error: \(file): dataset /"), damaged.stderr)
        XCTAssertTrue(damaged.stderr.contains("model.norm.weight: checksum mismatch"), damaged.stderr)
    }

    /// `init-model` over an existing good file, killed with SIGKILL at several points of its save: the
    /// file under the final name is always the old one or the whole new one.
    func testKilledSaveNeverLeavesAnUnloadableFile() throws {
        // About 5 M parameters (20 MB), so that the save takes a while.
        let config = dir.appendingPathComponent("config.json")
        try Data("""
            {"vocab_size": 4096, "hidden_size": 256, "intermediate_size": 1024, "num_hidden_layers": 4,
             "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 64, "max_position_embeddings": 64}
            """.utf8).write(to: config)
        let target = dir.appendingPathComponent("big.h5").path
        let arguments = ["init-model", "--config", config.path, "--tokenizer", CommandRunner.tokenizer, "--out", target]
        let first = try CommandRunner.run(arguments)
        XCTAssertEqual(first.status, 0, first.stderr)

        var killedMidWrite = 0
        for round in 0..<6 {
            let child = Process()
            child.executableURL = CommandRunner.executable
            child.arguments = arguments + ["--seed", "\(round + 10)", "--force"]
            child.standardOutput = FileHandle.nullDevice
            child.standardError = FileHandle.nullDevice
            try child.run()
            let deadline = Date().addingTimeInterval(60)
            while child.isRunning, Date() < deadline, !(try temporaryFiles().contains { $0.hasPrefix(".big.h5.tmp-") }) {
                usleep(1_000)
            }
            usleep(UInt32(round * 7_000))
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            if try temporaryFiles().contains(where: { $0.hasPrefix(".big.h5.tmp-") }) { killedMidWrite += 1 }
            let inspected = try CommandRunner.run(["inspect", target])
            XCTAssertEqual(inspected.status, 0, "round \(round): " + inspected.stdout + inspected.stderr)
        }
        XCTAssertGreaterThan(killedMidWrite, 0, "no kill landed inside a save")
    }

    private func temporaryFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains(".tmp-") }
    }
}
