/// Rows of `seq_len` tokens cut on demand from a prepared directory's token stream: exactly the rows
/// ``TrainingData/text(_:tokenizer:seqLen:packing:overlong:skipBadRows:)`` builds from the raw file (same
/// ids, targets, positions and document ids), without holding the tokens in memory.
///
/// - packing (``Packer/Mode/stream``): row `r` is stream tokens `r·T ..< (r+1)·T`; each document piece in
///   it restarts its positions at 0 and predicts the document's next token (the last token of a
///   document predicts nothing), the last row is padded. Opening reads nothing but the index.
/// - no packing (``Packer/Mode/single``): row `i` is document `i`, truncated to `T` or left out
///   (`overlong`), padded. Opening reads the document offsets once (to count what is cut or dropped).
public struct PreparedRows: RowSource {
    public let tokens: PreparedTokens
    public let seqLen: Int, padId: Int32, packing: Bool
    public let count: Int
    /// What the rows hold, as the raw file's report says it.
    public let report: DataReport
    /// Without packing and with `overlong: drop`: the documents kept, when some were dropped.
    let kept: [Int]?

    public init(tokens: PreparedTokens, seqLen: Int, padId: Int32, packing: Bool, overlong: Packer.Overlong) {
        precondition(seqLen > 0, "PreparedRows: seqLen must be > 0")
        self.tokens = tokens
        self.seqLen = seqLen
        self.padId = padId
        self.packing = packing
        var report = DataReport(file: tokens.directory)
        report.examples = tokens.documentCount
        report.skippedBadRows = tokens.index.skippedBadRows
        var kept: [Int]? = nil
        if packing {
            report.rows = (tokens.tokenCount + seqLen - 1) / seqLen
            report.tokens = tokens.tokenCount - tokens.documentCount  // each document's last token predicts nothing
        } else {
            var keptDocuments: [Int] = []
            for d in 0..<tokens.documentCount {
                let length = tokens.documentRange(d).count
                if length > seqLen {
                    if overlong == .drop { report.dropped += 1; continue }
                    report.truncated += 1
                }
                keptDocuments.append(d)
                report.tokens += length > seqLen ? seqLen : length - 1
            }
            report.rows = keptDocuments.count
            if report.dropped > 0 { kept = keptDocuments }
        }
        self.kept = kept
        self.count = report.rows
        self.report = report
    }

    /// Row `index`, built from the mapped tokens.
    public func row(at index: Int) -> PackedRow {
        precondition((0..<count).contains(index), "PreparedRows: row \(index) of \(count)")
        var row = RowBuilder(seqLen: seqLen, padId: padId)
        if packing {
            var t = index * seqLen
            let end = min(t + seqLen, tokens.tokenCount)
            while t < end {
                let document = tokens.document(containing: t).range
                let pieceEnd = min(end, document.upperBound)
                tokens.appendPiece(t..<pieceEnd, documentEnd: document.upperBound, to: &row)
                t = pieceEnd
            }
        } else {
            let document = tokens.documentRange(kept?[index] ?? index)
            let piece = document.lowerBound..<min(document.upperBound, document.lowerBound + seqLen)
            tokens.appendPiece(piece, documentEnd: document.upperBound, to: &row)
        }
        return row.finish()
    }
}

extension PreparedTokens {
    /// Appends global tokens `range` (inside one document, which ends at `documentEnd`) to `row` as its
    /// next piece: each token predicts the one after it in the document, the document's last nothing.
    func appendPiece(_ range: Range<Int>, documentEnd: Int, to row: inout RowBuilder) {
        let s = shard(containingToken: range.lowerBound), base = tokenStarts[s]
        let local = (range.lowerBound - base)..<(range.upperBound - base)
        let raw = shards[s].tokens.bytes
        switch index.dtype {
        case .uint16: Self.append(raw.assumingMemoryBound(to: UInt16.self), local, end: documentEnd - base, &row)
        case .uint32: Self.append(raw.assumingMemoryBound(to: UInt32.self), local, end: documentEnd - base, &row)
        }
    }

    private static func append<T: FixedWidthInteger>(_ tokens: UnsafeBufferPointer<T>, _ local: Range<Int>, end: Int,
                                                     _ row: inout RowBuilder) {
        row.add(ids: tokens[local].lazy.map { Int32(truncatingIfNeeded: $0) },
                targets: local.lazy.map { $0 + 1 < end ? Int32(truncatingIfNeeded: tokens[$0 + 1]) : -100 })
    }
}
