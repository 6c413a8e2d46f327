import Checkpoint
import Foundation
import Gemma

/// `gemma-train data prepare`: tokenizes a pretraining text file (`.txt`: one document per non-blank
/// line; `.jsonl`: `{"text": ...}` per line) on several threads into a prepared directory
/// (``PreparedIndex`` describes the layout) that training maps instead of tokenizing at every start.
///
/// The input is mapped and cut at line ends into pieces of about ``chunkBytes``; pieces are tokenized
/// in parallel, in waves of `2 x threads`, and appended in input order to shards of about
/// ``shardBytes`` of input each, so the output depends on the input and these two sizes only, never on
/// the thread count. Each document becomes `<bos> tokens <eos>` as ``EvaluationRows/textExample(_:tokenizer:)``
/// makes it. Shards are published by rename, the index last: a killed run leaves no `index.json`, and
/// a directory without one is refused by training.
public struct DataPreparation {
    public var input: String, output: String
    public var tokenizer: SentencePieceTokenizer
    /// Worker threads (1: tokenize on the calling thread).
    public var threads: Int
    /// Replace the contents of a non-empty output directory (files named like ours only).
    public var force = false
    /// Leave malformed JSONL rows out (counted in the index) instead of stopping at the first.
    public var skipBadRows = false
    /// Input bytes per piece of parallel work (cut at the next line end).
    public var chunkBytes = 1 << 20
    /// Input bytes per shard, in whole pieces.
    public var shardBytes = 256 << 20
    /// The token files' element type; nil takes the narrowest that holds the vocabulary.
    public var tokenType: PreparedIndex.TokenType?

    public init(input: String, output: String, tokenizer: SentencePieceTokenizer,
                threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.input = input
        self.output = output
        self.tokenizer = tokenizer
        self.threads = threads
    }

    /// Prepares the directory and returns its index.
    /// - Parameter log: called once per shard written.
    /// - Throws: ``DataError`` as `file:line: message` for a bad input line, naming the input or the
    ///   output for anything else (unreadable input, non-empty output without ``force``, no documents, a
    ///   failed write).
    @discardableResult
    public func run(log: (String) -> Void = { _ in }) throws -> PreparedIndex {
        precondition(threads >= 1 && chunkBytes >= 1 && shardBytes >= 1, "DataPreparation: sizes and threads must be >= 1")
        guard let bos = tokenizer.bosId, let eos = tokenizer.eosId else {
            throw DataError(file: tokenizer.source, line: nil, message: "the tokenizer has no <bos> or <eos> piece")
        }
        let mapped: MappedFile
        do { mapped = try MappedFile(path: input) } catch let error as SafeTensorsError {
            throw DataError(file: input, line: nil, message: "cannot read: \(error.reason)")
        }
        let attributes = try? FileManager.default.attributesOfItem(atPath: input)
        let source = PreparedIndex.SourceFile(
            path: input, bytes: mapped.bytes.count,
            mtime: (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)
        let created = try clearOutput()

        let cuts = ByteLines.cuts(mapped.bytes, target: chunkBytes)
        let chunksPerShard = max(1, shardBytes / chunkBytes)
        let job = ChunkJob(bytes: mapped.bytes, cuts: cuts, json: input.hasSuffix(".jsonl"), skipBadRows: skipBadRows,
                           tokenizer: tokenizer, bos: bos, eos: eos)
        let dtype = tokenType ?? PreparedIndex.TokenType(vocabularySize: tokenizer.vocabularySize)
        guard dtype == .uint32 || tokenizer.vocabularySize <= 1 << 16 else {
            throw DataError(file: tokenizer.source, line: nil, message: "\(tokenizer.vocabularySize) pieces do not fit uint16 ids")
        }
        var shards: [PreparedIndex.Shard] = []
        var writer: ShardWriter?
        var nextLine = 1, skipped = 0
        do {
            let chunks = cuts.count - 1, wave = 2 * threads
            for first in stride(from: 0, to: chunks, by: wave) {
                let pieces = first..<min(first + wave, chunks)
                defer { job.release(pieces) }
                for (offset, chunk) in job.tokenize(pieces, threads: threads).enumerated() {
                    if let failure = chunk.failure {
                        throw DataError(file: input, line: nextLine + failure.line - 1, message: failure.message)
                    }
                    nextLine += chunk.lines
                    skipped += chunk.skipped
                    let index = first + offset
                    if writer == nil {
                        writer = try ShardWriter(directory: output, number: shards.count, dtype: dtype)
                    }
                    try writer!.append(chunk)
                    if (index + 1) % chunksPerShard == 0 || index + 1 == chunks, let full = writer {
                        writer = nil
                        if let shard = try full.commit() {
                            shards.append(shard)
                            log("\(shard.tokensFile): \(shard.documents) documents, \(shard.tokens) tokens")
                        }
                    }
                }
            }
        } catch {
            writer?.abandon()
            removeShards(shards)
            if created { rmdir(output) }
            throw error
        }
        guard !shards.isEmpty else {
            if created { rmdir(output) }
            throw DataError(file: input, line: nil, message: "no documents (every line is blank)")
        }
        let index = PreparedIndex(
            format: PreparedIndex.formatName, version: PreparedIndex.currentVersion, kind: "text", dtype: dtype,
            tokenizer: .init(tokenizer), source: source, documents: shards.reduce(0) { $0 + $1.documents },
            tokens: shards.reduce(0) { $0 + $1.tokens }, skippedBadRows: skipped, shards: shards)
        let indexPath = path(PreparedIndex.fileName)
        do {
            try AtomicPath.write(indexPath) { try index.encoded().write(to: URL(fileURLWithPath: $0)) }
        } catch {
            throw DataError(file: indexPath, line: nil, message: "cannot write: \(error)")
        }
        return index
    }

    /// `output/name`.
    func path(_ name: String) -> String { (output as NSString).appendingPathComponent(name) }

    /// Creates the output directory, or checks that it is empty; with ``force``, removes a previous
    /// preparation's index first (so the directory stops looking complete), then its shards. Returns
    /// whether it created the directory (a failed run then removes it again).
    func clearOutput() throws -> Bool {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: output, isDirectory: &isDirectory) else {
            do { try manager.createDirectory(atPath: output, withIntermediateDirectories: true) } catch {
                throw DataError(file: output, line: nil, message: "cannot create the directory: \(error.localizedDescription)")
            }
            return true
        }
        guard isDirectory.boolValue else { throw DataError(file: output, line: nil, message: "exists and is not a directory") }
        let names = (try? manager.contentsOfDirectory(atPath: output)) ?? []
        guard !names.isEmpty else { return false }
        guard force else {
            throw DataError(file: output, line: nil, message: "is not empty (\(names.count) entries); pass --force to replace a previous preparation")
        }
        unlink(path(PreparedIndex.fileName))
        for name in names where ShardWriter.isShardName(name) { unlink(path(name)) }
        return false
    }

    /// Removes shards written by a run that failed.
    func removeShards(_ shards: [PreparedIndex.Shard]) {
        for shard in shards {
            unlink(path(shard.tokensFile))
            unlink(path(shard.offsetsFile))
        }
    }
}
