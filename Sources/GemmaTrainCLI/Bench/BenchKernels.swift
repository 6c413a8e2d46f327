import ArgumentParser
import Autograd
import Foundation

/// `gemma-train bench kernels`: forward and backward time of each fused kernel at the benchmark model's
/// shapes, with FLOP/s against the square-sgemm peak measured in the same run (Docs/Performance.md).
struct BenchKernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "Time the tensor kernels at the bench model's shapes; print one JSON line per kernel.")

    @Option(parsing: .unconditional, help: "Timed repetitions per kernel (the median is reported).")
    var repeats = 10

    @Option(help: "Only run kernels whose name contains this text.")
    var filter: String?

    func validate() throws {
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1, got \(repeats)") }
    }

    func run() throws {
        let bench = KernelBench(repeats: repeats)
        let peak = bench.sgemmPeak()
        let common: [(String, JSONValue)] = [
            ("sgemm_peak_gflops", .number(peak)),
            ("threads", .int(Parallel.threadCount)),
            ("openblas_coretype", .string(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "unset")),
            ("openblas_l2_size", .string(ProcessInfo.processInfo.environment["OPENBLAS_L2_SIZE"] ?? "unset")),
        ]
        for kernel in KernelBench.cases where filter.map({ kernel.name.contains($0) }) ?? true {
            let r = bench.measure(kernel)
            var fields: [(String, JSONValue)] = [
                ("kernel", .string(kernel.name)), ("shape", .string(kernel.shape)),
                ("fwd_ms", .number(r.forwardMs)), ("bwd_ms", .number(r.backwardMs)),
                ("gflops", .number(r.gflops)),
            ]
            if kernel.flops.usesMatmul { fields.append(("fraction_of_peak", .number(r.gflops / peak))) }
            fields += r.extra + common
            print(jsonObject(fields))
        }
    }
}
