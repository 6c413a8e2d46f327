import ArgumentParser
import Foundation
import Gemma
import Training

/// `gemma-train plan --config X.yaml [--mesh data=D,model=M] [--set ...] [--json]`: what a pretraining or
/// SFT run of that config needs on each rank (parameters, gradients, optimizer state, activations at its
/// micro-batch and recompute setting, the peak) and the bytes each mesh axis carries per optimizer step,
/// without starting MPI or allocating the model (``TrainingPlan``).
struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Estimate a run's memory per rank and communication per step from its config.")

    @Option(help: "The run configuration (YAML; schema in Docs/RunConfig.md).")
    var config: String

    @Option(name: .customLong("set"), parsing: .singleValue,
            help: "Override one setting, e.g. --set train.recompute=block (repeatable).")
    var overrides: [String] = []

    @Option(help: "The mesh, e.g. data=2,model=4 (overrides mesh: in the config).")
    var mesh: String?

    @Flag(help: "Print one JSON line instead of the table.")
    var json = false

    func run() throws {
        try reportingErrors {
            let all = overrides + (try mesh.map(RunConfig.meshOverrides) ?? [])
            let runConfig = try RunConfig.load(path: config, overrides: all)
            let plan = try TrainingPlan(config: runConfig, model: try TrainingPlan.architecture(of: runConfig))
            let name = runConfig.model.preset ?? runConfig.model.path ?? runConfig.model.initFrom ?? "model"
            print(json ? Self.json(plan, name: name) : Self.text(plan, name: name))
        }
    }

    static func text(_ plan: TrainingPlan, name: String) -> String {
        let m = plan.memory
        let rows: [(String, Int, String)] = [
            ("parameters", m.parameters, plan.frozenDType.map { "  (LoRA: frozen base in \($0.rawValue), \(plan.trainedParameters) adapter parameters trained)" } ?? ""),
            ("gradients", m.gradients, ""),
            ("optimizer state", m.optimizerState, plan.zero ? "  (ZeRO-1: 1/\(plan.dataRanks) of the moments)" : ""),
            ("activations", m.activations, "  (\(plan.microBatch) x \(plan.seqLen) tokens, recompute \(plan.recompute.rawValue))"),
            ("process", TrainingPlan.processBytes, ""), ("peak estimate", m.peak, ""),
        ]
        return """
            \(name): \(plan.model.parameterCount.total) parameters on mesh data=\(plan.dataRanks),model=\(plan.modelRanks) \
            (\(plan.dataRanks * plan.modelRanks) rank\(plan.dataRanks * plan.modelRanks == 1 ? "" : "s"))
            per rank (model rank 0; the others hold at most as much):
            \(rows.map { "  " + $0.0.padding(toLength: 17, withPad: " ", startingAt: 0) + bytes($0.1) + $0.2 }.joined(separator: "\n"))
            per optimizer step, bytes each rank sends: model axis \(bytes(plan.modelAxisBytes)), data axis \(bytes(plan.dataAxisBytes))
            """
    }

    static func json(_ plan: TrainingPlan, name: String) -> String {
        let m = plan.memory
        return jsonObject([
            ("model", .string(name)), ("mesh", .string("data=\(plan.dataRanks),model=\(plan.modelRanks)")),
            ("micro_batch", .int(plan.microBatch)), ("seq_len", .int(plan.seqLen)), ("recompute", .string(plan.recompute.rawValue)),
            ("zero", .bool(plan.zero)), ("trained_parameters", .int(plan.trainedParameters)),
            ("frozen_dtype", .string(plan.frozenDType?.rawValue ?? "none")),
            ("parameters_bytes", .int(m.parameters)), ("gradients_bytes", .int(m.gradients)),
            ("optimizer_state_bytes", .int(m.optimizerState)), ("activations_bytes", .int(m.activations)),
            ("process_bytes", .int(TrainingPlan.processBytes)), ("peak_bytes", .int(m.peak)),
            ("model_axis_bytes_per_step", .int(plan.modelAxisBytes)), ("data_axis_bytes_per_step", .int(plan.dataAxisBytes)),
        ])
    }

    /// `n` bytes in MiB below 1 GiB, else GiB.
    static func bytes(_ n: Int) -> String {
        n < 1 << 30 ? String(format: "%.1f MiB", Double(n) / 1_048_576) : String(format: "%.2f GiB", Double(n) / 1_073_741_824)
    }
}
