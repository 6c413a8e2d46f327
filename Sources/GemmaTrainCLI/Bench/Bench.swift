import ArgumentParser

/// `gemma-train bench ...`: performance measurements that print one JSON object per line.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure performance (one JSON object per line on stdout).",
        subcommands: [BenchKernels.self, BenchTrain.self, BenchGenerate.self, BenchData.self, BenchFilter.self])
}
