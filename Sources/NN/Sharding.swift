/// How one rank's tensor relates to the full (unsharded) tensor when a model is split over the mesh's
/// `model` axis into `parts` shards (Docs/Distributed.md). Full tensors are what checkpoints, model
/// files and Hugging Face directories hold; shards are what a rank trains.
///
///     replicated  local = full                           norms, the reward head, shared kv heads
///     rows        local = full rows [p·r, (p+1)·r)        q/k/v, gate/up (column-parallel), the embedding
///     columns     local = full columns [p·c, (p+1)·c)     o, down (row-parallel)
///
/// For `rows`, `r = ceil(R / parts)`: when `R` is not a multiple of `parts` (the vocabulary) the last
/// shards end in zero padding rows that belong to no full row.
public struct Sharding: Sendable, Equatable {
    public enum Split: Sendable, Equatable { case replicated, rows, columns }

    public let split: Split
    /// The full tensor's shape (rank 1 or 2 for a split).
    public let fullShape: [Int]
    /// This rank's shard index and the number of shards.
    public let part: Int, parts: Int
    /// For a replicated tensor: each rank computes only part of its gradient (a kv head shared by the
    /// query heads of several ranks), so gradients are summed over the `model` axis.
    public let sumsGradient: Bool

    public init(_ split: Split, fullShape: [Int], part: Int = 0, parts: Int = 1, sumsGradient: Bool = false) {
        precondition(split == .replicated || fullShape.count == 2, "Sharding: \(split) needs a matrix, got \(fullShape)")
        precondition(split != .columns || fullShape[1] % parts == 0, "Sharding: \(fullShape[1]) columns over \(parts) parts")
        self.split = split
        self.fullShape = fullShape
        self.part = part
        self.parts = parts
        self.sumsGradient = sumsGradient
    }

    /// Every rank holds the full tensor, gradients already complete.
    public static func replicated(_ shape: [Int]) -> Sharding { Sharding(.replicated, fullShape: shape) }

    /// The shape of this rank's shard.
    public var localShape: [Int] {
        switch split {
        case .replicated: fullShape
        case .rows: [(fullShape[0] + parts - 1) / parts, fullShape[1]]
        case .columns: [fullShape[0], fullShape[1] / parts]
        }
    }

    /// Full rows of shard `p` (`rows`), clipped to the full tensor.
    func fullRows(of p: Int) -> Range<Int> {
        let r = localShape[0]
        return min(p * r, fullShape[0])..<min((p + 1) * r, fullShape[0])
    }

    /// The block of the full tensor this shard holds, as an offset and a count per axis (for reading
    /// only that block from a file). Laid out row-major it is the shard without its padding rows.
    public var block: (offset: [Int], count: [Int]) {
        switch split {
        case .replicated: (fullShape.map { _ in 0 }, fullShape)
        case .rows: ([fullRows(of: part).lowerBound, 0], [fullRows(of: part).count, fullShape[1]])
        case .columns: ([0, part * localShape[1]], localShape)
        }
    }

    /// Writes the shard read as ``block`` (row-major) into `local`, zeroing the padding rows after it.
    public func fill(_ local: UnsafeMutablePointer<Float>, fromBlock values: [Float]) {
        let localCount = localShape.reduce(1, *)
        precondition(values.count <= localCount, "Sharding.fill: a block of \(values.count) for a shard of \(localCount)")
        local.update(from: values, count: values.count)
        (local + values.count).update(repeating: 0, count: localCount - values.count)
    }

    /// Copies this rank's shard out of `full` into `local` (padding rows zeroed).
    public func extract(from full: UnsafePointer<Float>, into local: UnsafeMutablePointer<Float>) {
        let localCount = localShape.reduce(1, *)
        switch split {
        case .replicated:
            local.update(from: full, count: localCount)
        case .rows:
            let rows = fullRows(of: part), c = fullShape[1]
            local.update(from: full + rows.lowerBound * c, count: rows.count * c)
            (local + rows.count * c).update(repeating: 0, count: localCount - rows.count * c)
        case .columns:
            let (r, c, lc) = (fullShape[0], fullShape[1], localShape[1])
            for i in 0..<r { (local + i * lc).update(from: full + i * c + part * lc, count: lc) }
        }
    }

    /// Writes shard `p`, `shard` (laid out as ``localShape``), into its place in `full`.
    public func place(shard: UnsafePointer<Float>, of p: Int, into full: UnsafeMutablePointer<Float>) {
        switch split {
        case .replicated:
            full.update(from: shard, count: fullShape.reduce(1, *))
        case .rows:
            let rows = fullRows(of: p), c = fullShape[1]
            (full + rows.lowerBound * c).update(from: shard, count: rows.count * c)
        case .columns:
            let (r, c, lc) = (fullShape[0], fullShape[1], localShape[1])
            for i in 0..<r { (full + i * c + p * lc).update(from: shard + i * lc, count: lc) }
        }
    }
}
