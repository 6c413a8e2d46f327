import ArgumentParser
import Checkpoint
import Datasets
import Foundation

/// `gemma-train data filter --in F.jsonl --out G.jsonl`: scrubs or drops personal data and secrets,
/// drops rows that overlap evaluation files and duplicates, keeping the rest in order
/// (``DataFiltering``, Docs/Data.md).
struct DataFilter: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "filter",
        abstract: "Scrub personal data, drop duplicates and evaluation overlap from a JSONL file (text, chat or preference rows).",
        discussion: """
            Looks only inside the text fields of each row (text; every message's content; prompt, chosen, \
            rejected); a row is written back with only those strings changed. Rules apply in order: bad rows \
            (--skip-bad-rows), PII (--pii drop), decontamination, exact then near duplicates; the first \
            occurrence of a duplicate is kept. Prints a summary on stderr; --report writes the counts and \
            up to five scrubbed examples of each rule and PII type as JSON.
            """)

    @Option(name: .customLong("in"), help: ArgumentHelp("The JSONL file to filter.", valueName: "file"))
    var input: String

    @Option(name: .customLong("out"), help: ArgumentHelp("The JSONL file to write (must not exist unless --force).", valueName: "file"))
    var output: String

    @Option(help: ArgumentHelp("text, chat, preference or prompt (default: told from the first row's keys).", valueName: "format"))
    var format: String?

    @Option(help: ArgumentHelp("scrub (replace matches with <EMAIL>, <PHONE>, ...), drop (the row) or off.", valueName: "mode"))
    var pii = "scrub"

    @Option(help: ArgumentHelp("exact (normalised text), near (MinHash, also exact) or off.", valueName: "mode"))
    var dedup = "exact"

    @Option(help: "Estimated Jaccard similarity of word 5-grams from which --dedup near drops a row.")
    var nearThreshold = 0.8

    @Option(help: ArgumentHelp("Evaluation JSONL files, comma-separated: drop rows sharing a word n-gram with them.", valueName: "files"))
    var decontaminate: String?

    @Option(help: "Words per n-gram of --decontaminate.")
    var ngram = 13

    @Option(help: ArgumentHelp("Write the report as JSON here (must not exist unless --force).", valueName: "file"))
    var report: String?

    @Option(help: "Threads (default: every core).")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Replace an existing --out or --report.")
    var force = false

    @Flag(help: "Leave out rows that are not JSON or not of the format (counted) instead of stopping at the first.")
    var skipBadRows = false

    func validate() throws {
        guard format.map({ RowFormat(rawValue: $0) != nil }) ?? true else {
            throw ValidationError("--format must be text, chat, preference or prompt, got \(format!)")
        }
        guard DataFiltering.PIIMode(rawValue: pii) != nil else { throw ValidationError("--pii must be scrub, drop or off, got \(pii)") }
        guard DataFiltering.DedupMode(rawValue: dedup) != nil else { throw ValidationError("--dedup must be exact, near or off, got \(dedup)") }
        guard nearThreshold > 0 && nearThreshold <= 1 else { throw ValidationError("--near-threshold must be in (0, 1], got \(nearThreshold)") }
        guard ngram >= 1 else { throw ValidationError("--ngram must be at least 1, got \(ngram)") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1, got \(threads)") }
        let paths = [input, output] + (report.map { [$0] } ?? []) + evaluationFiles
        let resolved = paths.map { URL(fileURLWithPath: $0).standardizedFileURL.resolvingSymlinksInPath().path }
        guard resolved[1] != resolved[0] else { throw ValidationError("--out \(output) is the --in file; write to another file") }
        if let report, resolved[2] == resolved[0] || resolved[2] == resolved[1] {
            throw ValidationError("--report \(report) is the --in or --out file; write to another file")
        }
    }

    /// The files of `--decontaminate`.
    var evaluationFiles: [String] {
        decontaminate.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } } ?? []
    }

    func run() throws {
        try reportingErrors {
            try OutputPath.check(output, kind: .file, force: force, option: "--out")
            if let report { try OutputPath.check(report, kind: .file, force: force, option: "--report") }
            var filtering = DataFiltering(input: input, output: output, threads: threads)
            filtering.format = format.flatMap(RowFormat.init(rawValue:))
            filtering.pii = DataFiltering.PIIMode(rawValue: pii)!
            filtering.dedup = DataFiltering.DedupMode(rawValue: dedup)!
            filtering.nearThreshold = nearThreshold
            filtering.skipBadRows = skipBadRows
            if !evaluationFiles.isEmpty {
                let index = try ContaminationIndex(files: evaluationFiles, n: ngram)
                printError("decontamination: \(index.count) distinct \(ngram)-grams from \(evaluationFiles.joined(separator: ", "))")
                filtering.contamination = index
            }
            let start = ContinuousClock.now
            let result = try filtering.run()
            let seconds = (ContinuousClock.now - start).milliseconds / 1000
            if let report {
                let json = try result.json()
                try AtomicPath.write(report) { try json.write(to: URL(fileURLWithPath: $0)) }
            }
            printError(result.summary + String(format: "; %.1f s", seconds))
        }
    }
}
