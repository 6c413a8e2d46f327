import Mesh
import NN

/// Reassembling full tensors from the shards of a model group, one tensor at a time (so memory stays
/// bounded by the largest tensor), for rank 0 to write model files and checkpoints.
enum FullTensors {
    /// Calls `body` with the full tensor of `entry` at model rank 0 of `modelAxis` (not at all on the
    /// other ranks), from each rank's `local` shard (laid out as `entry.shape`). Without a model axis, or
    /// for a replicated tensor, `local` is the full tensor and is passed on as it is.
    static func withFull(_ entry: ParameterStore.Entry, local: UnsafeBufferPointer<Float>, modelAxis: Communicator?,
                         _ body: (UnsafeBufferPointer<Float>) throws -> Void) throws {
        let sharding = entry.sharding
        guard let modelAxis, modelAxis.size > 1, sharding.split != .replicated else {
            if (modelAxis?.rank ?? 0) == 0 { try body(local) }
            return
        }
        let parts = try modelAxis.gather(local)
        guard modelAxis.rank == 0 else { return }
        var full = [Float](repeating: 0, count: sharding.fullShape.reduce(1, *))
        parts.withUnsafeBufferPointer { parts in
            full.withUnsafeMutableBufferPointer { full in
                for p in 0..<sharding.parts {
                    sharding.place(shard: parts.baseAddress! + p * entry.count, of: p, into: full.baseAddress!)
                }
            }
        }
        try full.withUnsafeBufferPointer(body)
    }
}
