import ArgumentParser
import Foundation
import Mesh
import Training

/// `gemma-train pretrain|sft|reward --config X.yaml [--set section.key=value ...]`.
struct TrainOptions: ParsableArguments {
    @Option(help: "The run configuration (YAML; schema in Docs/Training.md).")
    var config: String

    @Option(name: .customLong("set"), parsing: .singleValue,
            help: "Override one setting, e.g. --set train.steps=100 (repeatable).")
    var overrides: [String] = []

    @Option(help: "The mesh, e.g. data=1,model=1 (overrides mesh: in the config).")
    var mesh: String?

    @Option(help: ArgumentHelp("Continue a run: auto (the newest good checkpoint of run.dir; a fresh start if there is none) or a checkpoint path.",
                               valueName: "auto|path"))
    var resume: String?

    @Option(name: .customLong("init"), help: ArgumentHelp("Start a new run from these weights only: a GemmaTrain .h5 file or a Hugging Face directory (sets model.init).",
                                                          valueName: "path"))
    var initFrom: String?

    /// `--resume PATH` continues one checkpoint and `--init` starts a new run: they contradict each other.
    /// (`--resume auto` with `--init` is the restart loop: the newest checkpoint when there is one, else
    /// a fresh run from `--init`.)
    func validate() throws {
        if let resume, resume != "auto", let initFrom {
            throw ValidationError("--resume \(resume) continues a checkpoint and --init \(initFrom) starts a new run: give one "
                                  + "(--resume auto with --init resumes when run.dir has a checkpoint, else starts from --init)")
        }
    }

    /// Loads the config with the overrides and runs `task` on this rank of the MPI job (a job of one
    /// process when not started by `mpirun`). An error on any rank ends the whole job.
    func run(_ task: Task) throws {
        try onMesh { config, mesh in
            let trainer = try Trainer(config: config, task: task, mesh: mesh)
            trainer.checkpointVerifier = VerifyCheckpoint.inChildProcess
            try trainer.run()
        }
    }

    /// Loads the config (with `--set` and `--mesh`), joins the MPI job, builds the config's mesh on it
    /// and calls `body` on this rank; errors are one line, and on a job of several ranks end the job.
    func onMesh(_ body: (RunConfig, DeviceMesh) throws -> Void) throws {
        try reportingErrors {
            var all = overrides
            if let mesh { all += try RunConfig.meshOverrides(mesh) }
            if let resume { all.append("checkpoint.resume='\(resume)'") }
            if let initFrom { all.append("model.init='\(initFrom)'") }
            let config = try RunConfig.load(path: config, overrides: all)
            try inWorld { world in
                try body(config, try DeviceMesh(world: world, data: config.mesh.data, model: config.mesh.model))
            }
        }
    }
}

struct Pretrain: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Pretrain (next-token prediction) on packed text.")
    @OptionGroup var options: TrainOptions
    func run() throws { try options.run(.pretrain) }
}

struct SFT: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sft", abstract: "Supervised fine-tuning on dialogues (loss on model turns only).")
    @OptionGroup var options: TrainOptions
    func run() throws { try options.run(.sft) }
}

struct DPO: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dpo", abstract: "Align a policy on preference pairs with DPO (or IPO) against a frozen reference.")
    @OptionGroup var options: TrainOptions
    func run() throws { try options.run(.dpo) }
}

struct RL: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rl", abstract: "Align a policy online against a reward model (RLOO or GRPO).")
    @OptionGroup var options: TrainOptions
    func run() throws { try options.run(.rl) }
}

struct Reward: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Train a reward model on preference pairs (Bradley-Terry loss).")
    @OptionGroup var options: TrainOptions
    func run() throws { try options.run(.reward) }
}
