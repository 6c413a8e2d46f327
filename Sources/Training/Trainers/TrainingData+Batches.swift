import Datasets

/// The rows of a run and the order they are visited in: step `s` (1-based) takes global rows
/// `(s-1)·B ..< s·B` of the sample order, data rank `d` of `D` its slice `d·B/D ..< (d+1)·B/D`, cut into
/// micro-batches. A pure function of (seed, step), whatever the number of ranks. Rows are fetched by
/// index from their ``RowSource`` (an array, or a prepared directory building each row on demand), so
/// a rank builds only the rows of its slices (and, through ``globalRows(step:)``, the global batch's).
public struct BatchSchedule<Row> {
    public let rows: any RowSource<Row>
    public let batchSize: Int, microBatchSize: Int
    public let dataRank: Int, dataParallel: Int
    var order: SampleOrder

    public init(rows: any RowSource<Row>, seed: UInt64, batchSize: Int, microBatchSize: Int, dataRank: Int = 0, dataParallel: Int = 1) {
        self.rows = rows
        self.batchSize = batchSize
        self.microBatchSize = microBatchSize
        self.dataRank = dataRank
        self.dataParallel = dataParallel
        order = SampleOrder(count: rows.count, seed: seed)
    }

    /// This rank's micro-batches of step `step` (1-based), as rows.
    public mutating func microBatches(step: Int) -> [[Row]] {
        let local = batchSize / dataParallel
        let first = (step - 1) * batchSize + dataRank * local
        let picked = (first..<(first + local)).map { rows.row(at: order.sample(at: $0)) }
        return stride(from: 0, to: local, by: microBatchSize).map { Array(picked[$0..<min($0 + microBatchSize, local)]) }
    }

    /// Every row of the global batch of `step` (for counting the step's tokens).
    public mutating func globalRows(step: Int) -> [Row] {
        let first = (step - 1) * batchSize
        return (first..<(first + batchSize)).map { rows.row(at: order.sample(at: $0)) }
    }
}
