/// `rows` sequences of `time` tokens laid out row-major, ready for the model.
public struct Batch: Sendable {
    public var rows: Int, time: Int
    /// `[rows * time]` input ids (padding where a row is short).
    public var ids: [Int32]
    /// `[rows * time]` the token each position predicts, -100 where nothing is predicted.
    public var targets: [Int32]
    /// `[rows * time]` RoPE positions (restarting at 0 for each packed document).
    public var positions: [Int32]
    /// `[rows * time]` document ids per token (attention stays inside a document).
    public var documents: [Int32]
    /// Whether some row holds more than one document (else causal attention alone is exact).
    public var isPacked = false

    /// Document ids for the attention, or nil when no row packs several documents.
    public var attentionDocuments: [Int32]? { isPacked ? documents : nil }

    public init(rows: Int, time: Int) {
        self.rows = rows
        self.time = time
        ids = []
        targets = []
        positions = []
        documents = []
        ids.reserveCapacity(rows * time)
    }

    /// The batch of `rows`, each of `time` tokens.
    public init<Rows: Collection<PackedRow>>(_ rows: Rows, time: Int) {
        self.init(rows: rows.count, time: time)
        for row in rows { append(row) }
    }

    /// Predicted tokens in the batch.
    public var tokenCount: Int { PackedRow.predicted(targets) }

    /// Appends one row.
    public mutating func append(_ row: PackedRow) {
        precondition(row.ids.count == time, "Batch: row of \(row.ids.count) tokens in a batch of \(time)")
        let base = Int32(ids.count)  // document ids unique across the batch
        ids += row.ids
        targets += row.targets
        positions += row.positions
        documents += row.documents.map { $0 < 0 ? $0 - base : $0 + base }
        isPacked = isPacked || row.isPacked
    }
}

/// One training row of exactly `seq_len` tokens, possibly holding several packed documents.
public struct PackedRow: Sendable, Equatable {
    public var ids: [Int32]
    public var targets: [Int32]
    public var positions: [Int32]
    /// Document index within the row per token; padding gets -(position + 1), so it is its own document.
    public var documents: [Int32]
    /// Whether the row holds more than one document before its padding.
    public var isPacked: Bool

    public init(ids: [Int32], targets: [Int32], positions: [Int32], documents: [Int32]) {
        self.ids = ids
        self.targets = targets
        self.positions = positions
        self.documents = documents
        isPacked = documents.contains { $0 > 0 }
    }

    /// Predicted tokens in the row (targets other than -100).
    public var tokenCount: Int { Self.predicted(targets) }

    /// The number of `targets` that are not -100.
    static func predicted(_ targets: [Int32]) -> Int { targets.reduce(0) { $0 + ($1 == -100 ? 0 : 1) } }
}
