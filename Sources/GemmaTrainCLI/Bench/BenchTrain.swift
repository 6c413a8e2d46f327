import ArgumentParser
import Autograd
import Foundation
import Gemma
import Mesh
import Training

/// `gemma-train bench train --config Configs/bench.yaml [--mesh data=D,model=M] [--task pretrain|sft]`:
/// trains the configured model for its steps and prints one JSON line with throughput, model FLOP
/// utilisation (6 FLOPs per parameter and token, 4 with LoRA, whose frozen weights get no gradient;
/// recomputation not counted) against the same run's sgemm peak (summed over the ranks, each measuring with its own threads at once), and the
/// largest peak memory of any rank, the median CPU seconds a step costs summed over the ranks (the figure
/// other processes on a shared machine do not change), and the machine. Under `mpirun` every rank runs
/// it; rank 0 prints.
struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "Time training steps of a run config; print one JSON line.")

    @OptionGroup var options: TrainOptions

    @Option(parsing: .unconditional, help: "Steps excluded from the median (warm-up).")
    var warmup = 3

    @Option(help: "The objective: pretrain (text) or sft (dialogues).")
    var task = "pretrain"

    func validate() throws {
        guard warmup >= 0 else { throw ValidationError("--warmup must be >= 0, got \(warmup)") }
        guard ["pretrain", "sft"].contains(task) else { throw ValidationError("--task must be pretrain or sft, got \(task)") }
    }

    func run() throws {
        try options.onMesh { config, mesh in
            let peak = try mesh.world.communicator.allReduceSum([KernelBench(repeats: 5).sgemmPeak()])[0]
            // A run directory of its own, removed afterwards: benchmarks repeat, and run.dir may hold a run.
            var config = config
            config.run.dir = FileManager.default.temporaryDirectory.appendingPathComponent("gemma-bench-\(getpid())").path
            defer { try? FileManager.default.removeItem(atPath: config.run.dir) }
            let trainer = try Trainer(config: config, task: Task(rawValue: task)!, mesh: mesh, log: { _ in })
            guard config.train.steps > warmup else {
                throw ValidationError("train.steps (\(config.train.steps)) must exceed --warmup (\(warmup))")
            }
            var times: [Double] = [], cpuTimes: [Double] = []
            var tokensPerStep = 0
            var cpuBefore = processCPUSeconds()
            try trainer.run { step, tokens, seconds in
                tokensPerStep = tokens
                let cpu = processCPUSeconds()
                if step > warmup { times.append(seconds); cpuTimes.append(cpu - cpuBefore) }
                cpuBefore = cpu
            }
            let c = trainer.model.config
            let stepSeconds = median(times)
            let (n, v, d, l, t) = (Double(c.parameterCount.nonEmbedding), Double(c.vocabSize), Double(c.hiddenSize),
                                   Double(c.numHiddenLayers), Double(config.data.seqLen))
            let perWeight: Double = trainer.model.lora == nil ? 6 : 4  // forward 2; backward 2 for inputs (+2 for weights)
            let flopsPerToken = perWeight * (n + v * d) + 12 * l * t * Double(c.numAttentionHeads) * Double(c.headDim)
            let tokensPerS = Double(tokensPerStep) / stepSeconds
            let gflops = flopsPerToken * tokensPerS / 1e9
            let rss = try mesh.world.communicator.allReduceMax([Double(processStatusBytes("VmHWM"))])[0]
            let cpuSeconds = try mesh.world.communicator.allReduceSum([median(cpuTimes)])[0]
            guard mesh.isLeader else { return }
            print(jsonObject([
                ("benchmark", .string("train")), ("config", .string(options.config)),
                ("tokens_per_step", .int(tokensPerStep)), ("tokens_per_s", .number(tokensPerS)),
                ("ms_per_step", .number(stepSeconds * 1000)), ("cpu_s_per_step", .number(cpuSeconds)),
                ("gflops", .number(gflops)),
                ("sgemm_peak_gflops", .number(peak)), ("mfu", .number(gflops / peak)),
                ("peak_rss_mib", .number(rss / 1_048_576)), ("mesh", .string(mesh.description)),
                ("zero", .bool(config.mesh.zero)), ("ranks", .int(mesh.world.size)),
                ("recompute", .string(config.train.recompute.rawValue)), ("task", .string(task)),
                ("lora_rank", .int(config.model.lora.rank ?? 0)), ("frozen_dtype", .string(config.model.frozenDType.rawValue)),
                ("threads", .int(Parallel.threadCount)),
            ] + machineFields()))
        }
    }
}
