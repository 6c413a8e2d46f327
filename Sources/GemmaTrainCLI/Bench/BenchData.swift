import ArgumentParser
import Autograd
import Datasets
import Foundation
import Gemma
import Training

/// `gemma-train bench data [--megabytes 20]`: on a synthetic JSONL corpus (or `--corpus FILE`), the
/// tokenizer's own speed on one thread, `data prepare`'s speed on 1 and on `--threads` threads (and
/// whether both wrote the same bytes), then the start-up of a run on the prepared directory: time and
/// peak memory added to open it and build the first step's batches. Prints one JSON line.
struct BenchData: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "Time data preparation and the start-up of a run on prepared data; print one JSON line.")

    @Option(help: "Size of the synthetic corpus.")
    var megabytes = 20

    @Option(help: ArgumentHelp("Use this .txt or .jsonl file instead of a synthetic corpus.", valueName: "file"))
    var corpus: String?

    @Option(help: ArgumentHelp("The SentencePiece model.", valueName: "file"))
    var tokenizer = "Configs/tokenizer/demo.model"

    @Option(help: "Threads of the parallel preparation (default: every core).")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Megabytes of documents the tokenizer alone is timed on.")
    var sampleMegabytes = 8

    @Option(help: "Rows of the start-up's first step: data.seq_len.")
    var seqLen = 256

    @Option(help: "train.batch_size of the start-up's first step.")
    var batchSize = 16

    @Flag(help: "Also time loading the raw corpus as a run without a prepared directory does.")
    var raw = false

    @Option(help: ArgumentHelp("Work here and keep the files (default: a temporary directory, removed).", valueName: "dir"))
    var workDirectory: String?

    func validate() throws {
        guard megabytes >= 1, threads >= 1, sampleMegabytes >= 1, seqLen >= 2, batchSize >= 1 else {
            throw ValidationError("--megabytes, --threads, --sample-megabytes, --batch-size must be >= 1 and --seq-len >= 2")
        }
    }

    func run() throws {
        try reportingErrors {
            let tok = try SentencePieceTokenizer(contentsOf: URL(fileURLWithPath: tokenizer))
            let work = workDirectory ?? FileManager.default.temporaryDirectory.appendingPathComponent("gemma-bench-data-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
            defer { if workDirectory == nil { try? FileManager.default.removeItem(atPath: work) } }
            let file = corpus ?? (work as NSString).appendingPathComponent("corpus.jsonl")
            if corpus == nil {
                let started = ContinuousClock.now
                try SyntheticCorpus.write(file, bytes: megabytes << 20, tokenizer: tok)
                printError("wrote \(file) in \(String(format: "%.1f", (ContinuousClock.now - started).milliseconds / 1000)) s")
            }
            let corpusBytes = (try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0
            let alone = try tokenizerSpeed(file, tok)
            printError(String(format: "tokenizer alone: %.0f tokens/s on 1 thread (%.0f per CPU second)", alone.wall, alone.cpu))

            func prepare(_ threads: Int) throws -> (directory: String, seconds: Double, cpuSeconds: Double, tokens: Int) {
                let directory = (work as NSString).appendingPathComponent("prepared-\(threads)")
                var preparation = DataPreparation(input: file, output: directory, tokenizer: tok, threads: threads)
                preparation.force = true
                let (started, cpuStarted) = (ContinuousClock.now, processCPUSeconds())
                let index = try preparation.run()
                let seconds = (ContinuousClock.now - started).milliseconds / 1000, cpu = processCPUSeconds() - cpuStarted
                printError(String(format: "data prepare, %d thread%@: %.1f s (%.1f CPU s), %.0f tokens/s", threads,
                                  threads == 1 ? "" : "s", seconds, cpu, Double(index.tokens) / seconds))
                return (directory, seconds, cpu, index.tokens)
            }
            let single = try prepare(1)
            let parallel = threads > 1 ? try prepare(threads) : single
            let identical = try sameFiles(single.directory, parallel.directory)
            if single.directory != parallel.directory { try FileManager.default.removeItem(atPath: single.directory) }

            let start = try measure { try firstBatches(parallel.directory, tok) }
            var fields: [(String, JSONValue)] = [
                ("benchmark", .string("data")), ("corpus_mb", .number(Double(corpusBytes) / 1e6)),
                ("tokens", .int(parallel.tokens)), ("tokenizer_tokens_per_s", .number(alone.wall)),
                ("tokenizer_tokens_per_cpu_s", .number(alone.cpu)),
                ("prepare_1_thread_tokens_per_s", .number(Double(single.tokens) / single.seconds)),
                ("prepare_threads", .int(threads)),
                ("prepare_tokens_per_s", .number(Double(parallel.tokens) / parallel.seconds)),
                ("prepare_per_core_vs_tokenizer", .number(Double(parallel.tokens) / parallel.seconds / Double(threads) / alone.wall)),
                ("prepare_seconds", .number(parallel.seconds)),
                ("prepare_tokens_per_cpu_s", .number(Double(parallel.tokens) / parallel.cpuSeconds)),
                ("identical_output", .bool(identical)),
                ("startup_ms", .number(start.seconds * 1000)), ("startup_peak_rss_mib", .number(start.peakMiB)),
                ("peak_reset", .bool(start.reset)),
            ]
            if raw {
                let rawStart = try measure {
                    _ = try TrainingData.text(file, tokenizer: tok, seqLen: seqLen, packing: true, overlong: .truncate, skipBadRows: false)
                }
                fields += [("raw_load_ms", .number(rawStart.seconds * 1000)), ("raw_load_peak_rss_mib", .number(rawStart.peakMiB))]
            }
            print(jsonObject(fields + machineFields()))
        }
    }

    /// Tokens per second of `tokenizer.encode` alone, one thread, on the first `--sample-megabytes` of
    /// documents (decoded beforehand).
    func tokenizerSpeed(_ file: String, _ tokenizer: SentencePieceTokenizer) throws -> (wall: Double, cpu: Double) {
        struct Row: Decodable { let text: String }
        guard let handle = FileHandle(forReadingAtPath: file) else { throw ValidationError("cannot read \(file)") }
        let sample = try handle.read(upToCount: sampleMegabytes << 20) ?? Foundation.Data()
        try handle.close()
        var texts: [String] = []
        let decoder = JSONDecoder()
        sample.withUnsafeBytes { bytes in
            _ = ByteLines.forEach(in: bytes, skipByteOrderMark: true) { _, line in
                guard !ByteLines.isBlank(line) else { return }
                if file.hasSuffix(".jsonl") {
                    if let row = try? decoder.decode(Row.self, from: Foundation.Data(line)) { texts.append(row.text) }
                } else {
                    texts.append(String(decoding: line, as: UTF8.self))
                }
            }
        }
        if sample.count == sampleMegabytes << 20 { texts.removeLast() }  // probably cut short
        let (started, cpuStarted) = (ContinuousClock.now, processCPUSeconds())
        let tokens = texts.reduce(0) { $0 + tokenizer.encode($1).count }
        let seconds = (ContinuousClock.now - started).milliseconds / 1000
        return (Double(tokens) / seconds, Double(tokens) / (processCPUSeconds() - cpuStarted))
    }

    /// What a run does with a prepared `directory` before its first step: open it, cut the rows, and
    /// build this rank's micro-batches of step 1 (one rank, micro-batches of 4).
    func firstBatches(_ directory: String, _ tokenizer: SentencePieceTokenizer) throws {
        let (rows, _) = try TrainingData.textRows(directory, tokenizer: tokenizer, seqLen: seqLen, packing: true,
                                                  overlong: .truncate, skipBadRows: false)
        var schedule = BatchSchedule(rows: rows, seed: 1234, batchSize: batchSize, microBatchSize: min(4, batchSize))
        let batches = schedule.microBatches(step: 1).map { Batch($0, time: seqLen) }
        precondition(batches.reduce(0) { $0 + $1.rows } == batchSize)
    }

    /// Wall time of `body` and the peak resident memory it added: the peak is reset first
    /// (`/proc/self/clear_refs`), so the figure is the high-water mark minus the resident set before.
    func measure(_ body: () throws -> Void) throws -> (seconds: Double, peakMiB: Double, reset: Bool) {
        let reset = FileManager.default.isWritableFile(atPath: "/proc/self/clear_refs")
            && (try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)) != nil
        let before = processStatusBytes("VmRSS")
        let started = ContinuousClock.now
        try body()
        let seconds = (ContinuousClock.now - started).milliseconds / 1000
        return (seconds, Double(processStatusBytes("VmHWM") - (reset ? before : 0)) / 1_048_576, reset)
    }

    /// Whether two directories hold the same file names with the same bytes.
    func sameFiles(_ a: String, _ b: String) throws -> Bool {
        guard a != b else { return true }
        let names = try FileManager.default.contentsOfDirectory(atPath: a).sorted()
        guard names == (try FileManager.default.contentsOfDirectory(atPath: b).sorted()) else { return false }
        return names.allSatisfy {
            FileManager.default.contentsEqual(atPath: (a as NSString).appendingPathComponent($0), andPath: (b as NSString).appendingPathComponent($0))
        }
    }
}
