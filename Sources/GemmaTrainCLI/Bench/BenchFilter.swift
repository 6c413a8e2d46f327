import ArgumentParser
import Datasets
import Foundation
import Gemma

/// `gemma-train bench filter [--megabytes 100]`: `data filter`'s speed on a synthetic JSONL corpus with
/// personal data and duplicates (``SyntheticCorpus``, or `--corpus FILE`), with each rule on alone and
/// with all of them: wall and CPU seconds (CPU time does not depend on other work on the machine),
/// megabytes and rows per second, and the rows each run kept. Prints one JSON line.
struct BenchFilter: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "filter", abstract: "Time data filter with each rule on, on a synthetic corpus; print one JSON line.")

    @Option(help: "Size of the synthetic corpus.")
    var megabytes = 100

    @Option(help: ArgumentHelp("Use this .jsonl file instead of a synthetic corpus.", valueName: "file"))
    var corpus: String?

    @Option(help: ArgumentHelp("The SentencePiece model whose word pieces make the synthetic corpus.", valueName: "file"))
    var tokenizer = "Configs/tokenizer/demo.model"

    @Option(help: "Threads (default: every core).")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: ArgumentHelp("Work here and keep the files (default: a temporary directory, removed).", valueName: "dir"))
    var workDirectory: String?

    func validate() throws {
        guard megabytes >= 1, threads >= 1 else { throw ValidationError("--megabytes and --threads must be >= 1") }
    }

    func run() throws {
        try reportingErrors {
            let work = workDirectory ?? FileManager.default.temporaryDirectory.appendingPathComponent("gemma-bench-filter-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
            defer { if workDirectory == nil { try? FileManager.default.removeItem(atPath: work) } }
            func path(_ name: String) -> String { (work as NSString).appendingPathComponent(name) }
            let file = corpus ?? path("corpus.jsonl")
            if corpus == nil {
                let tok = try SentencePieceTokenizer(contentsOf: URL(fileURLWithPath: tokenizer))
                try SyntheticCorpus.write(file, bytes: megabytes << 20, tokenizer: tok, sensitive: true)
            }
            let corpusBytes = (try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0
            // Evaluation rows: every 1000th row of the corpus, so that decontamination has work to do.
            let evaluation = path("eval.jsonl")
            try evaluationSample(of: file, to: evaluation)
            let contamination = try ContaminationIndex(files: [evaluation], n: 13)

            var fields: [(String, JSONValue)] = [("benchmark", .string("filter")), ("corpus_mb", .number(Double(corpusBytes) / 1e6)),
                                                 ("threads", .int(threads))]
            let cases: [(name: String, pii: DataFiltering.PIIMode, dedup: DataFiltering.DedupMode, decontaminate: Bool)] = [
                ("pii", .scrub, .off, false), ("exact", .off, .exact, false), ("near", .off, .near, false),
                ("decontaminate", .off, .off, true), ("all", .scrub, .near, true),
            ]
            for c in cases {
                var filtering = DataFiltering(input: file, output: path("out-\(c.name).jsonl"), threads: threads)
                filtering.pii = c.pii
                filtering.dedup = c.dedup
                filtering.contamination = c.decontaminate ? contamination : nil
                try? FileManager.default.removeItem(atPath: filtering.output)
                let (started, cpuStarted) = (ContinuousClock.now, processCPUSeconds())
                let report = try filtering.run()
                let seconds = (ContinuousClock.now - started).milliseconds / 1000, cpu = processCPUSeconds() - cpuStarted
                try FileManager.default.removeItem(atPath: filtering.output)
                let mbps = Double(corpusBytes) / 1e6 / seconds, rows = Double(report.rowsIn) / seconds
                printError(String(format: "%@: %.1f s (%.1f CPU s), %.1f MB/s, %.0f rows/s; ", c.name, seconds, cpu, mbps, rows) + report.summary)
                fields += [("\(c.name)_seconds", .number(seconds)), ("\(c.name)_cpu_seconds", .number(cpu)),
                           ("\(c.name)_mb_per_s", .number(mbps)),
                           ("\(c.name)_rows_per_s", .number(rows)), ("\(c.name)_rows_out", .int(report.rowsOut))]
                if c.name == "all" { fields.append(("rows", .int(report.rowsIn))) }
            }
            print(jsonObject(fields + machineFields()))
        }
    }

    /// Writes every 1000th non-blank line of `file` to `evaluation`.
    func evaluationSample(of file: String, to evaluation: String) throws {
        let mapped = try Foundation.Data(contentsOf: URL(fileURLWithPath: file), options: .alwaysMapped)
        var sample: [UInt8] = [], count = 0
        mapped.withUnsafeBytes { bytes in
            _ = ByteLines.forEach(in: bytes, skipByteOrderMark: true) { _, line in
                guard !ByteLines.isBlank(line) else { return }
                if count % 1000 == 0 { sample += line; sample.append(UInt8(ascii: "\n")) }
                count += 1
            }
        }
        try Foundation.Data(sample).write(to: URL(fileURLWithPath: evaluation))
    }
}
