import Checkpoint
import Foundation

/// Writes one shard of a prepared directory: `shard-NNNNN.tokens` (ids as little-endian `dtype`) and
/// `shard-NNNNN.offsets` (little-endian UInt64 document ends, after a leading 0), each under a temporary
/// name until ``commit()`` renames both into place.
final class ShardWriter {
    let tokensName: String, offsetsName: String
    let dtype: PreparedIndex.TokenType
    private let tokens: AtomicFileOutput, offsets: AtomicFileOutput
    private var tokenCount = 0, documentCount = 0
    /// Reused conversion buffers (no allocation per piece once grown).
    private var narrow16: [UInt16] = [], narrow32: [UInt32] = [], ends: [UInt64] = []

    init(directory: String, number: Int, dtype: PreparedIndex.TokenType) throws {
        let stem = "shard-" + String(format: "%05d", number)
        let (tokensName, offsetsName) = (stem + ".tokens", stem + ".offsets")
        let path = { (name: String) in (directory as NSString).appendingPathComponent(name) }
        let tokens = try Self.io { try AtomicFileOutput(path: path(tokensName)) }
        let offsets = try Self.io { try AtomicFileOutput(path: path(offsetsName)) }
        try Self.io { try [UInt64(0)].withUnsafeBytes { try offsets.write($0) } }
        (self.tokensName, self.offsetsName, self.dtype, self.tokens, self.offsets) = (tokensName, offsetsName, dtype, tokens, offsets)
    }

    /// Whether `name` is a shard file or a temporary one of ours (`--force` removes these).
    static func isShardName(_ name: String) -> Bool {
        let bare = name.hasPrefix(".") ? String(name.dropFirst()) : name
        return bare.hasPrefix("shard-") && (bare.contains(".tokens") || bare.contains(".offsets"))
    }

    /// Appends a piece's documents.
    func append(_ chunk: TokenizedChunk) throws {
        ends.removeAll(keepingCapacity: true)
        for end in chunk.ends { ends.append(UInt64(tokenCount + end)) }
        switch dtype {
        case .uint16:
            narrow16.removeAll(keepingCapacity: true)
            for id in chunk.tokens { narrow16.append(UInt16(truncatingIfNeeded: id)) }
            try Self.io { try narrow16.withUnsafeBytes { try tokens.write($0) } }
        case .uint32:
            narrow32.removeAll(keepingCapacity: true)
            for id in chunk.tokens { narrow32.append(UInt32(bitPattern: id)) }
            try Self.io { try narrow32.withUnsafeBytes { try tokens.write($0) } }
        }
        try Self.io { try ends.withUnsafeBytes { try offsets.write($0) } }
        tokenCount += chunk.tokens.count
        documentCount += chunk.ends.count
    }

    /// Publishes both files and returns the shard's entry; nil (and nothing published) when it holds no
    /// document (every line of its pieces was blank).
    func commit() throws -> PreparedIndex.Shard? {
        guard documentCount > 0 else { abandon(); return nil }
        try Self.io { try tokens.commit() }
        try Self.io { try offsets.commit() }
        return PreparedIndex.Shard(tokensFile: tokensName, offsetsFile: offsetsName, tokens: tokenCount, documents: documentCount)
    }

    /// Removes the unpublished files.
    func abandon() {
        tokens.abandon()
        offsets.abandon()
    }

    /// `body`, a write error becoming a ``DataError`` naming the file.
    private static func io<R>(_ body: () throws -> R) throws -> R {
        do { return try body() } catch let error as SafeTensorsError {
            throw DataError(file: error.file, line: nil, message: error.reason)
        }
    }
}
