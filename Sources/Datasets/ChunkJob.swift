import Foundation
import Gemma

/// What one piece of the input became (``ChunkJob`` tokenizes the pieces of a `data prepare` input).
struct TokenizedChunk {
    /// Documents back to back, each `<bos> ids <eos>`.
    var tokens: [Int32] = []
    /// `[documents]` end offset of each document in `tokens`.
    var ends: [Int] = []
    /// Lines in the piece (terminators), to number the next piece's lines.
    var lines = 0
    var skipped = 0
    /// The first bad line, numbered within the piece (1-based).
    var failure: (line: Int, message: String)?
}

/// The tokenizing of the pieces of a mapped input (shared read-only by the worker threads).
struct ChunkJob: @unchecked Sendable {  // the mapped bytes are read-only; the tokenizer is Sendable
    let bytes: UnsafeRawBufferPointer
    /// `[pieces + 1]` byte offsets of the pieces (``ByteLines/cuts(_:target:)``).
    let cuts: [Int]
    let json: Bool, skipBadRows: Bool
    let tokenizer: SentencePieceTokenizer
    let bos: Int32, eos: Int32

    /// Pieces `range`, tokenized on up to `threads` threads; in order.
    func tokenize(_ range: Range<Int>, threads: Int) -> [TokenizedChunk] {
        orderedParallelMap(range, threads: threads) { tokenize($0) }
    }

    /// Lets the kernel drop the mapped input pages of `pieces` (``releasePages(_:_:)``).
    func release(_ pieces: Range<Int>) {
        releasePages(bytes, cuts[pieces.lowerBound]..<cuts[pieces.upperBound])
    }

    /// Piece `k` (a line of JSONL or text per document; blank lines skipped).
    func tokenize(_ k: Int) -> TokenizedChunk {
        struct Failure: Error { let line: Int, message: String }
        struct TextRow: Decodable { let text: String }
        var chunk = TokenizedChunk()
        let decoder = JSONDecoder()
        let piece = UnsafeRawBufferPointer(rebasing: bytes[cuts[k]..<cuts[k + 1]])
        do {
            chunk.lines = try ByteLines.forEach(in: piece, skipByteOrderMark: k == 0) { line, text in
                guard !ByteLines.isBlank(text) else { return }
                let document: String
                if json {
                    do { document = try decoder.decode(TextRow.self, from: Data(text)).text } catch let error as DecodingError {
                        if skipBadRows { chunk.skipped += 1; return }
                        throw Failure(line: line, message: error.summary)
                    }
                } else {
                    guard let decoded = String(validating: text, as: UTF8.self) else {
                        throw Failure(line: line, message: "not UTF-8 text")
                    }
                    document = decoded
                }
                chunk.tokens.append(bos)
                chunk.tokens += tokenizer.encode(document)
                chunk.tokens.append(eos)
                chunk.ends.append(chunk.tokens.count)
            }
        } catch let failure as Failure {
            chunk.failure = (failure.line, failure.message)
        } catch {
            chunk.failure = (0, "\(error)")
        }
        return chunk
    }
}
