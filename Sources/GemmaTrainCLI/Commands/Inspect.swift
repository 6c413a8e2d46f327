import ArgumentParser
import Foundation
import Gemma
import Training

/// `gemma-train inspect PATH`: what a GemmaTrain `.h5` file holds, every tensor read back to check
/// its checksum.
///
/// ```
/// gemma-train inspect runs/sft-tiny/ckpt-00000100.h5          # summary, then one line per dataset
/// gemma-train inspect --json runs/sft-tiny/ckpt-00000100.h5   # the same as one JSON object
/// ```
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a checkpoint or model file and verify every dataset's checksum.",
        discussion: """
            Prints the kind, step, tokens seen, mesh, creation time, code revision and model config, then \
            every dataset with its shape and checksum status (ok, or FAILED and why), read in full. Reads \
            training checkpoints (version 2) and model files (version 1). Exits with 1 if any dataset fails.
            """)

    @Argument(help: "A GemmaTrain .h5 checkpoint or model file.")
    var path: String

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    /// Set on the child that does the reading (see ``run()``).
    @Flag(help: .hidden)
    var inProcess = false

    /// Reads the file in a child process (this program with `--in-process`) and passes on what it
    /// prints and its exit code: a damaged file that crashes the HDF5 library is then one line
    /// `error: PATH: reading it crashed the HDF5 library (signal N): the file is damaged` and exit code 1.
    func run() throws {
        guard inProcess else {
            let child = try ChildProcess.run(["inspect", "--in-process"] + (json ? ["--json"] : []) + [path])
            guard !child.crashed else {
                printError("error: \(path): reading it crashed the HDF5 library (signal \(child.status)): the file is damaged")
                throw ExitCode(1)
            }
            FileHandle.standardOutput.write(child.stdout)
            FileHandle.standardError.write(child.stderr)
            if child.status != 0 { throw ExitCode(child.status) }
            return
        }
        var failed = 0
        try reportingErrors {
            let reader = try CheckpointReader.open(path)
            let checks = try reader.checkDatasets()
            failed = checks.filter { $0.error != nil }.count
            print(json ? Self.json(reader, checks) : Self.text(reader, checks))
        }
        if failed > 0 { throw ExitCode(1) }
    }

    // MARK: Text

    static func text(_ reader: CheckpointReader, _ checks: [CheckpointReader.DatasetCheck]) -> String {
        var lines: [(String, String)] = [
            ("file", reader.path),
            ("version", reader.version + (reader.state == nil ? " (model file: no training state)" : " (training checkpoint)")),
            ("kind", reader.kind.rawValue),
        ]
        if let s = reader.state {
            let o = s.optimizer
            lines += [
                ("step", "\(s.step)"),
                ("tokens seen", "\(s.tokensSeen)"),
                ("mesh", "data=\(s.mesh.data),model=\(s.mesh.model)"),
                ("created", s.created),
                ("code revision", s.codeRevision),
                ("optimizer", "adamw step \(o.step), lr \(o.learningRate), beta1 \(o.beta1), beta2 \(o.beta2), "
                    + "eps \(o.epsilon), weight_decay \(o.weightDecay)"),
                ("data cursor", "seed \(s.data.seed), epoch \(s.data.epoch), next index \(s.data.nextIndex)"),
                ("schedule step", "\(s.scheduleStep)"),
                ("random", "seed \(s.randomness.seed)" + (s.randomness.generator.map { ", generator state \($0.state)" } ?? "")),
            ]
        }
        let c = reader.modelConfig
        lines.append(("model", "vocab_size \(c.vocabSize), hidden_size \(c.hiddenSize), intermediate_size \(c.intermediateSize), "
            + "num_hidden_layers \(c.numHiddenLayers), num_attention_heads \(c.numAttentionHeads), "
            + "num_key_value_heads \(c.numKeyValueHeads), head_dim \(c.headDim): \(c.parameterCount.total) parameters"))
        if let h = try? reader.adapterHeader() {
            lines.append(("lora", "rank \(h.rank), alpha \(h.alpha), targets \(h.targets.joined(separator: ", ")); "
                + "base \(h.base) (checksum \(h.baseChecksum), stored as \((h.frozenDType ?? .float32).rawValue)); "
                + "/params holds the trainable tensors only"))
        }
        let width = lines.map(\.0.count).max()!
        var out = lines.map { $0.0 + ":" + String(repeating: " ", count: width - $0.0.count + 1) + $0.1 }
        out.append("datasets:")
        let pathWidth = checks.map(\.dataset.count).max() ?? 0
        for check in checks {
            let shape = check.shape.map { "\($0)" } ?? "?"
            let status = check.error.map { "FAILED: \($0.reason)" } ?? "ok"
            out.append("  " + check.dataset.padding(toLength: pathWidth, withPad: " ", startingAt: 0) + "  "
                       + shape.padding(toLength: max(shape.count, 14), withPad: " ", startingAt: 0) + "  " + status)
        }
        let failed = checks.filter { $0.error != nil }.count
        out.append(failed == 0 ? "\(checks.count) datasets, all checksums ok" : "\(failed) of \(checks.count) datasets FAILED")
        return out.joined(separator: "\n")
    }

    // MARK: JSON

    static func json(_ reader: CheckpointReader, _ checks: [CheckpointReader.DatasetCheck]) -> String {
        /// A Float as the shortest decimal that reads back to it.
        func number(_ x: Float) -> Double { Double("\(x)")! }
        var object: [String: Any] = [
            "file": reader.path,
            "version": reader.version,
            "kind": reader.kind.rawValue,
            "model_config": (try? JSONSerialization.jsonObject(with: Data(reader.modelConfigJSON.utf8))) ?? reader.modelConfigJSON,
            "parameters": reader.modelConfig.parameterCount.total,
            "datasets": checks.map { check -> [String: Any] in
                var entry: [String: Any] = ["path": check.dataset, "status": check.error == nil ? "ok" : "FAILED"]
                if let shape = check.shape { entry["shape"] = shape }
                if let error = check.error { entry["error"] = error.reason }
                return entry
            },
            "ok": checks.allSatisfy { $0.error == nil },
        ]
        if let h = try? reader.adapterHeader() {
            object["lora"] = ["r": h.rank, "lora_alpha": h.alpha, "target_modules": h.targets, "base_model": h.base,
                              "base_checksum": h.baseChecksum, "frozen_dtype": (h.frozenDType ?? .float32).rawValue] as [String: Any]
        }
        if let s = reader.state {
            let o = s.optimizer
            var random: [String: Any] = ["seed": s.randomness.seed]
            if let g = s.randomness.generator { random["state"] = [g.state.0, g.state.1, g.state.2, g.state.3] }
            object.merge([
                "step": s.step,
                "tokens_seen": s.tokensSeen,
                "mesh": ["data": s.mesh.data, "model": s.mesh.model],
                "created": s.created,
                "code_revision": s.codeRevision,
                "optimizer": ["algorithm": "adamw", "step": o.step, "lr": number(o.learningRate), "beta1": number(o.beta1),
                              "beta2": number(o.beta2), "eps": number(o.epsilon), "weight_decay": number(o.weightDecay)],
                "data": ["seed": s.data.seed, "epoch": s.data.epoch, "next_index": s.data.nextIndex],
                "schedule_step": s.scheduleStep,
                "random": random,
                "run_config": s.runConfig,
            ]) { $1 }
        }
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}
