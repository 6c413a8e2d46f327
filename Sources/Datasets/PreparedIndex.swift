import Foundation
import Gemma

/// `index.json` of a prepared token directory (`gemma-train data prepare`), written last so that a
/// directory without it is incomplete:
///
/// ```json
/// {"format": "gemma-train-tokens", "version": 1, "kind": "text", "dtype": "uint16",
///  "tokenizer": {"source": "Configs/tokenizer/demo.model", "vocab_size": 4096, "fnv1a64": "9f3a...", ...},
///  "source": {"path": "corpus.jsonl", "bytes": 1048576, "mtime": 1700000000.5},
///  "documents": 1200, "tokens": 250000, "skipped_bad_rows": 0,
///  "shards": [{"tokens_file": "shard-00000.tokens", "offsets_file": "shard-00000.offsets",
///              "tokens": 250000, "documents": 1200}]}
/// ```
///
/// Shard `k` holds whole documents, in input order: `tokens_file` is `tokens` little-endian `dtype`
/// values (each document `<bos> text <eos>`, back to back); `offsets_file` is `documents + 1`
/// little-endian UInt64 offsets into it, `[0, end of document 0, ..., tokens]`.
public struct PreparedIndex: Codable, Equatable, Sendable {
    /// The name every index carries in `format`.
    public static let formatName = "gemma-train-tokens"
    /// The layout version this code reads and writes.
    public static let currentVersion = 1
    /// The index's file name inside the directory.
    public static let fileName = "index.json"

    public var format: String
    public var version: Int
    /// What the documents are: `text` (pretraining). Only text is prepared so far.
    public var kind: String
    /// `uint16` when every id fits (vocabulary of at most 65536 pieces), else `uint32`.
    public var dtype: TokenType
    public var tokenizer: TokenizerIdentity
    public var source: SourceFile
    /// Documents and tokens over all shards.
    public var documents: Int, tokens: Int
    /// Malformed rows left out (`--skip-bad-rows`).
    public var skippedBadRows: Int
    public var shards: [Shard]

    /// The element type of the token files.
    public enum TokenType: String, Codable, Sendable {
        case uint16, uint32

        /// Bytes per token.
        public var width: Int { self == .uint16 ? 2 : 4 }

        /// The narrowest type that holds every id of a vocabulary of `size` pieces.
        public init(vocabularySize size: Int) { self = size <= 1 << 16 ? .uint16 : .uint32 }
    }

    /// The tokenizer the ids come from: a run must use the same one.
    public struct TokenizerIdentity: Codable, Equatable, Sendable, CustomStringConvertible {
        /// Where it was loaded from (for messages; not compared).
        public var source: String
        public var vocabSize: Int
        /// FNV-1a 64 of the SentencePiece model file's bytes, 16 hex digits.
        public var fnv1a64: String

        public init(_ tokenizer: SentencePieceTokenizer) {
            source = tokenizer.source
            vocabSize = tokenizer.vocabularySize
            fnv1a64 = Self.fingerprint(tokenizer.modelData)
        }

        /// Whether both are the same model (same bytes, same vocabulary), wherever they were loaded from.
        public func matches(_ other: TokenizerIdentity) -> Bool { vocabSize == other.vocabSize && fnv1a64 == other.fnv1a64 }

        public var description: String { "\(source) (\(vocabSize) pieces, fnv1a64 \(fnv1a64))" }

        /// FNV-1a 64 of `data`, as 16 lower-case hex digits.
        static func fingerprint(_ data: Data) -> String {
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in data { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
            let hex = String(hash, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }

        enum CodingKeys: String, CodingKey {
            case source, fnv1a64
            case vocabSize = "vocab_size"
        }
    }

    /// The input file as it was when prepared.
    public struct SourceFile: Codable, Equatable, Sendable {
        public var path: String
        public var bytes: Int
        /// Modification time, seconds since 1970.
        public var mtime: Double
    }

    /// One shard: a tokens file and its document offsets.
    public struct Shard: Codable, Equatable, Sendable {
        public var tokensFile: String, offsetsFile: String
        public var tokens: Int, documents: Int

        enum CodingKeys: String, CodingKey {
            case tokens, documents
            case tokensFile = "tokens_file"
            case offsetsFile = "offsets_file"
        }
    }

    enum CodingKeys: String, CodingKey {
        case format, version, kind, dtype, tokenizer, source, documents, tokens, shards
        case skippedBadRows = "skipped_bad_rows"
    }

    /// Whether `path` names a directory, which data loading takes for a prepared one (``read(directory:)``
    /// then checks that it is complete).
    public static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// Reads and checks `directory/index.json`.
    /// - Throws: ``DataError`` naming the index file: missing (an unfinished `data prepare`), not JSON,
    ///   another format or version, or shard counts that do not add up.
    public static func read(directory: String) throws -> PreparedIndex {
        let path = (directory as NSString).appendingPathComponent(fileName)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError(file: directory, line: nil, message: "not a prepared token directory: no \(fileName) (an unfinished `gemma-train data prepare`?)")
        }
        let index: PreparedIndex
        do { index = try JSONDecoder().decode(PreparedIndex.self, from: data) } catch let error as DecodingError {
            throw DataError(file: path, line: nil, message: "not a prepared token index: \(error.summary)")
        }
        guard index.format == formatName, index.version == currentVersion else {
            throw DataError(file: path, line: nil, message: "format \(index.format) version \(index.version); this gemma-train reads \(formatName) version \(currentVersion)")
        }
        guard index.shards.reduce(0, { $0 + $1.tokens }) == index.tokens,
              index.shards.reduce(0, { $0 + $1.documents }) == index.documents else {
            throw DataError(file: path, line: nil, message: "shard token or document counts do not add up to the totals")
        }
        return index
    }

    /// The index as pretty JSON with sorted keys (stable bytes for the same preparation).
    func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}
