/// Lays examples out in rows of `seq_len` tokens.
///
/// - `stream`: examples are concatenated and cut every `seq_len` tokens (pretraining text; a document may
///   continue in the next row, where its positions restart).
/// - `pack`: whole examples are placed in order, a new row starting when the next one does not fit
///   (SFT with packing); the rest of a row is padding.
/// - `single`: one example per row, padded (no packing).
///
/// Positions restart at 0 for each example in a row, and each gets its own document id so attention never
/// crosses examples. Padding predicts nothing. Examples longer than `seq_len` are truncated or dropped
/// (`pack`/`single`) and counted.
public struct Packer {
    public enum Mode: Sendable { case stream, pack, single }
    public enum Overlong: String, Sendable { case truncate, drop }

    public let seqLen: Int, padId: Int32, mode: Mode, overlong: Overlong

    public init(seqLen: Int, padId: Int32, mode: Mode, overlong: Overlong) {
        self.seqLen = seqLen
        self.padId = padId
        self.mode = mode
        self.overlong = overlong
    }

    /// What packing did.
    public struct Result: Sendable {
        public var rows: [PackedRow]
        public var truncated = 0, dropped = 0
    }

    public func pack(_ examples: [Example]) -> Result {
        var result = Result(rows: [])
        var row = RowBuilder(seqLen: seqLen, padId: padId)
        for var example in examples {
            if mode != .stream && example.ids.count > seqLen {
                if overlong == .drop { result.dropped += 1; continue }
                example.ids.removeLast(example.ids.count - seqLen)
                example.targets.removeLast(example.targets.count - seqLen)
                result.truncated += 1
            }
            switch mode {
            case .stream:
                var start = 0
                while start < example.ids.count {
                    let n = min(row.room, example.ids.count - start)
                    row.add(example, start..<(start + n))
                    start += n
                    if row.room == 0 { result.rows.append(row.finish()) }
                }
            case .pack:
                if row.room < example.ids.count { result.rows.append(row.finish()) }
                row.add(example, 0..<example.ids.count)
            case .single:
                row.add(example, 0..<example.ids.count)
                result.rows.append(row.finish())
            }
        }
        if !row.isEmpty { result.rows.append(row.finish()) }
        return result
    }
}

/// Accumulates the pieces of one row.
struct RowBuilder {
    let seqLen: Int, padId: Int32
    var ids: [Int32] = [], targets: [Int32] = [], positions: [Int32] = [], documents: [Int32] = []
    var document: Int32 = -1

    init(seqLen: Int, padId: Int32) {
        self.seqLen = seqLen
        self.padId = padId
    }

    var room: Int { seqLen - ids.count }
    var isEmpty: Bool { ids.isEmpty }

    /// Adds `range` of an example as the next document of the row.
    mutating func add(_ example: Example, _ range: Range<Int>) {
        add(ids: example.ids[range], targets: example.targets[range])
    }

    /// Adds a piece of a document as the next document of the row: its ids and, per id, the token it
    /// predicts (-100: none). Positions restart at 0.
    mutating func add(ids pieceIds: some Collection<Int32>, targets pieceTargets: some Collection<Int32>) {
        precondition(pieceIds.count == pieceTargets.count && pieceIds.count <= room, "RowBuilder: piece does not fit")
        document += 1
        ids += pieceIds
        targets += pieceTargets
        positions += 0..<Int32(pieceIds.count)
        documents += repeatElement(document, count: pieceIds.count)
    }

    /// The row, padded to `seqLen`; the builder starts over.
    mutating func finish() -> PackedRow {
        let pad = room
        let start = ids.count
        ids += [Int32](repeating: padId, count: pad)
        targets += [Int32](repeating: -100, count: pad)
        positions += (0..<pad).map { Int32(start + $0) }
        documents += (0..<pad).map { -Int32(start + $0) - 1 }
        let row = PackedRow(ids: ids, targets: targets, positions: positions, documents: documents)
        self = RowBuilder(seqLen: seqLen, padId: padId)
        return row
    }
}
