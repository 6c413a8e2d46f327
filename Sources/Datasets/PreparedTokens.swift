import Checkpoint
import Foundation
import Gemma

/// The token stream of a prepared directory, memory mapped: documents back to back over the shards, in
/// input order. Nothing is read until a token is touched, so opening costs the index and two `mmap`s
/// per shard, and a rank reading some rows pages in only those.
public final class PreparedTokens: @unchecked Sendable {  // immutable after init; the mappings are read-only
    public let directory: String
    public let index: PreparedIndex
    /// Per shard: its mapped files and where it starts in the whole stream.
    let shards: [MappedShard]
    /// `[shards + 1]`: global token offset where each shard starts, then the total.
    let tokenStarts: [Int]
    /// `[shards + 1]`: global index of each shard's first document, then the total.
    let documentStarts: [Int]

    struct MappedShard {
        let tokens: MappedFile, offsets: MappedFile
        /// `[documents + 1]` little-endian offsets into the shard's tokens.
        var documentEnds: UnsafeBufferPointer<UInt64> { offsets.bytes.assumingMemoryBound(to: UInt64.self) }
    }

    /// Opens `directory`, checking that its ids come from `tokenizer`.
    /// - Throws: ``DataError`` naming the directory (or the file) when the index is missing or damaged,
    ///   a shard has the wrong size, or the directory was prepared with another tokenizer (both named).
    public init(directory: String, tokenizer: SentencePieceTokenizer) throws {
        precondition(1.littleEndian == 1, "prepared token files are little-endian; this host is not")
        let index = try PreparedIndex.read(directory: directory)
        let mine = PreparedIndex.TokenizerIdentity(tokenizer)
        guard index.tokenizer.matches(mine) else {
            throw DataError(file: directory, line: nil, message: "prepared with tokenizer \(index.tokenizer), but this run uses \(mine); prepare it again with --tokenizer \(tokenizer.source)")
        }
        guard index.kind == "text" else {
            throw DataError(file: directory, line: nil, message: "prepared data of kind '\(index.kind)'; only text is supported")
        }
        var shards: [MappedShard] = [], tokenStarts = [0], documentStarts = [0]
        for shard in index.shards {
            let file = { (name: String) in (directory as NSString).appendingPathComponent(name) }
            let mapped: MappedShard
            do {
                mapped = MappedShard(tokens: try MappedFile(path: file(shard.tokensFile)),
                                     offsets: try MappedFile(path: file(shard.offsetsFile)))
            } catch let error as SafeTensorsError {
                throw DataError(file: error.file, line: nil, message: error.reason)
            }
            guard mapped.tokens.bytes.count == shard.tokens * index.dtype.width else {
                throw DataError(file: mapped.tokens.path, line: nil, message: "\(mapped.tokens.bytes.count) bytes, the index says \(shard.tokens) \(index.dtype.rawValue) tokens")
            }
            guard mapped.offsets.bytes.count == (shard.documents + 1) * 8,
                  mapped.documentEnds.first == 0, mapped.documentEnds.last == UInt64(shard.tokens) else {
                throw DataError(file: mapped.offsets.path, line: nil, message: "not \(shard.documents + 1) offsets from 0 to \(shard.tokens)")
            }
            shards.append(mapped)
            tokenStarts.append(tokenStarts.last! + shard.tokens)
            documentStarts.append(documentStarts.last! + shard.documents)
        }
        self.directory = directory
        self.index = index
        self.shards = shards
        self.tokenStarts = tokenStarts
        self.documentStarts = documentStarts
    }

    /// Tokens over all shards.
    public var tokenCount: Int { tokenStarts.last! }
    /// Documents over all shards.
    public var documentCount: Int { documentStarts.last! }

    /// The shard holding global token `t` (or, for `t == tokenCount`, the last one).
    func shard(containingToken t: Int) -> Int { Self.last(in: tokenStarts, notAbove: t, below: shards.count) }

    /// The shard holding global document `d`.
    func shard(containingDocument d: Int) -> Int { Self.last(in: documentStarts, notAbove: d, below: shards.count) }

    /// Global token range of document `d`.
    public func documentRange(_ d: Int) -> Range<Int> {
        let s = shard(containingDocument: d)
        let ends = shards[s].documentEnds, local = d - documentStarts[s]
        return (tokenStarts[s] + Int(ends[local]))..<(tokenStarts[s] + Int(ends[local + 1]))
    }

    /// The document holding global token `t` and its global token range.
    func document(containing t: Int) -> (index: Int, range: Range<Int>) {
        let s = shard(containingToken: t)
        let ends = shards[s].documentEnds, local = UInt64(t - tokenStarts[s])
        // The last document whose start is <= local (ends[0] = 0; ends is sorted).
        var low = 0, high = ends.count - 2
        while low < high {
            let mid = (low + high + 1) / 2
            if ends[mid] <= local { low = mid } else { high = mid - 1 }
        }
        return (documentStarts[s] + low, (tokenStarts[s] + Int(ends[low]))..<(tokenStarts[s] + Int(ends[low + 1])))
    }

    /// The largest `i < below` with `starts[i] <= value` (`starts` sorted, `starts[0] == 0`).
    static func last(in starts: [Int], notAbove value: Int, below: Int) -> Int {
        var low = 0, high = below - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if starts[mid] <= value { low = mid } else { high = mid - 1 }
        }
        return low
    }
}
