import Datasets
import Gemma
import Mesh

/// What an objective works with: the run's config, this rank's model and tokenizer, the mesh, and the
/// reductions and data plumbing every objective shares.
public struct ObjectiveContext {
    public let config: RunConfig
    /// This rank's model (its shards on a `model` axis).
    public let model: GemmaModel
    public let tokenizer: SentencePieceTokenizer
    /// Nil for a single process without MPI.
    public let mesh: DeviceMesh?
    /// Setup lines (rank 0 only).
    public let log: (String) -> Void

    public var dataRank: Int { mesh?.dataRank ?? 0 }
    public var dataParallel: Int { mesh?.dataParallel ?? 1 }
    /// The padding id of batches.
    public var padId: Int32 { tokenizer.padId ?? 0 }
    /// How rows longer than `data.seq_len` are handled.
    public var overlong: Packer.Overlong { Packer.Overlong(rawValue: config.data.overlong.rawValue)! }

    /// `values` summed over the `data` axis (each data rank holds its slice's share).
    public func sumOverData(_ values: [Double]) throws -> [Double] {
        guard let mesh, mesh.dataParallel > 1 else { return values }
        return try mesh.dataAxis.allReduceSum(values)
    }

    /// This rank's loss share, or NaN where a test injects one (``FaultInjection``).
    func injected(_ loss: Double, step: Int) -> Double {
        FaultInjection.fromEnvironment?.loss(loss, rank: mesh?.worldRank ?? 0, step: step) ?? loss
    }

    /// Loads `data.train` (which must yield rows; filtered first with `data.filters`, ``loadTraining(_:)``)
    /// and `data.eval` with `load`, logging their reports; returns the training rows in their sample order
    /// and the evaluation rows.
    func loadSplit<Row>(format: RowFormat, _ load: (String) throws -> (rows: any RowSource<Row>, report: DataReport)) throws
        -> (train: BatchSchedule<Row>, eval: any RowSource<Row>) {
        let d = config.data
        let train = try loadTraining(format: format, load)
        log("train data \(train.report)")
        guard train.rows.count > 0 else { throw TrainingError("\(d.train): no training rows (\(train.report))") }
        var eval: any RowSource<Row> = [Row]()
        if let path = d.eval {
            let e = try load(path)
            log("eval data \(e.report)")
            eval = e.rows
        }
        return (BatchSchedule(rows: train.rows, seed: UInt64(config.run.seed), batchSize: config.train.batchSize,
                              microBatchSize: config.train.microBatchSize, dataRank: dataRank, dataParallel: dataParallel), eval)
    }

    /// This data rank's micro-batches of `count` rows taken in order: data rank `d` of `D` takes
    /// micro-batches `d, d + D, ...` of `train.micro_batch_size` rows.
    func chunks(count: Int) -> [Range<Int>] {
        let micro = config.train.microBatchSize
        return stride(from: dataRank * micro, to: count, by: micro * dataParallel).map { $0..<min($0 + micro, count) }
    }

    /// The evaluation's micro-batches of this data rank: ``chunks(count:)`` of the first
    /// `train.eval_batches` micro-batches of `count` rows (all when 0).
    func evaluationChunks(count: Int) -> [Range<Int>] {
        let batches = config.train.evalBatches
        return chunks(count: batches > 0 ? min(count, batches * config.train.microBatchSize) : count)
    }
}
