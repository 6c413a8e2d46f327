import ArgumentParser
import Datasets
import Foundation
import Gemma

/// `gemma-train data ...`: data preparation and filtering commands. (Named `DataCommand`, not `Data`, so as not to
/// shadow Foundation's `Data` in this module.)
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "Prepare and filter training data.", subcommands: [DataPrepare.self, DataFilter.self])
}

/// `gemma-train data prepare --in corpus.jsonl --out DIR --tokenizer tokenizer.model`: tokenizes a
/// pretraining text file on every core into a directory of memory-mapped token shards that `data.train`
/// and `data.eval` accept instead of the file (Docs/Training.md).
struct DataPrepare: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prepare",
        abstract: "Tokenize pretraining text (.txt or .jsonl {\"text\": ...}) into a directory of token shards.",
        discussion: """
            Each non-blank line is a document, stored as <bos> tokens <eos> (uint16 ids when the vocabulary \
            fits, else uint32) in shards with an index.json written last. Point data.train or data.eval at \
            the directory; the run must use the same tokenizer. The output does not depend on --threads.
            """)

    @Option(name: .customLong("in"), help: ArgumentHelp("The text file: .txt (one document per line) or .jsonl ({\"text\": ...} per line).", valueName: "file"))
    var input: String

    @Option(name: .customLong("out"), help: ArgumentHelp("The directory to write (must be empty or absent unless --force).", valueName: "dir"))
    var output: String

    @Option(help: ArgumentHelp("The SentencePiece model the run will use.", valueName: "file"))
    var tokenizer: String

    @Option(help: "Tokenizing threads (default: every core).")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Input megabytes per shard.")
    var shardMegabytes = 256

    @Option(help: ArgumentHelp("Token file element type: uint16 or uint32 (default: uint16 when the vocabulary fits).", valueName: "type"))
    var dtype: String?

    @Flag(help: "Replace a non-empty --out (a previous preparation's files).")
    var force = false

    @Flag(help: "Leave out malformed JSONL rows (counted in index.json) instead of stopping at the first.")
    var skipBadRows = false

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1, got \(threads)") }
        guard shardMegabytes >= 1 else { throw ValidationError("--shard-megabytes must be at least 1, got \(shardMegabytes)") }
        guard dtype.map({ PreparedIndex.TokenType(rawValue: $0) != nil }) ?? true else {
            throw ValidationError("--dtype must be uint16 or uint32, got \(dtype!)")
        }
    }

    func run() throws {
        try reportingErrors {
            let tok = try SentencePieceTokenizer(contentsOf: URL(fileURLWithPath: tokenizer))
            var preparation = DataPreparation(input: input, output: output, tokenizer: tok, threads: threads)
            preparation.force = force
            preparation.skipBadRows = skipBadRows
            preparation.tokenType = dtype.flatMap(PreparedIndex.TokenType.init(rawValue:))
            preparation.shardBytes = shardMegabytes << 20
            preparation.chunkBytes = min(preparation.chunkBytes, preparation.shardBytes)
            let start = ContinuousClock.now
            let index = try preparation.run(log: printError)
            let seconds = (ContinuousClock.now - start).milliseconds / 1000
            print("prepared \(output): \(index.documents) documents, \(index.tokens) \(index.dtype.rawValue) tokens in \(index.shards.count) shard\(index.shards.count == 1 ? "" : "s")"
                + (index.skippedBadRows > 0 ? ", \(index.skippedBadRows) bad rows skipped" : "")
                + String(format: "; %.1f s, %.0f tokens/s on %d thread%@", seconds, Double(index.tokens) / max(seconds, 1e-9),
                         threads, threads == 1 ? "" : "s"))
        }
    }
}
