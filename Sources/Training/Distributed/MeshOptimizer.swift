import Autograd
import Mesh
import NN

/// One optimizer step over the mesh (Docs/Distributed.md), after every micro-batch's backward:
///
/// 1. ``reduceGradients()``: gradients of kv weights shared by the model group are summed over
///    `model`; then over `data` either reduce-scattered (ZeRO-1: each data rank gets the sum of its
///    contiguous shard of the flat buffer) or all-reduced in buckets (every rank gets all of it).
/// 2. ``clipping(maxNorm:)``: the global norm over the whole model, each element counted once
///    (replicated tensors only on model rank 0), and PyTorch's `clip_grad_norm_` factor.
/// 3. ``step(learningRate:gradientScale:)``: AdamW on this rank's range, the gradients scaled by that
///    factor as they are read, then (ZeRO-1) the updated shards are all-gathered over `data` so every
///    replica holds the new parameters.
///
/// Without a mesh (one process) the same calls make no collective. Only the store's trainable tensors
/// (``ParameterStore/trainable``; all but a LoRA run's frozen base) take part: frozen ones have no
/// gradient, no moments and no traffic.
final class MeshOptimizer {
    let parameters: ParameterStore
    let mesh: DeviceMesh?
    /// Whether the moments are sharded over `data` (ZeRO-1).
    let zero: Bool
    /// AdamW over this rank's range: its ZeRO shard, or the whole buffer.
    let adam: AdamW
    /// Elements of each data rank's shard of the trainable range, in data-rank order (ZeRO-1).
    let shardCounts: [Int]
    /// Flat ranges of tensors whose gradients are summed over `model` (shared kv heads).
    let modelSummed: [Range<Int>]
    /// Flat ranges that count towards the gradient norm on this rank.
    let counted: [Range<Int>]
    /// Elements per all-reduce when gradients are all-reduced (bounds MPI's temporary buffers).
    static let bucketElements = 1 << 24

    /// - Parameter makeAdam: builds AdamW over the range this rank updates.
    init(parameters: ParameterStore, mesh: DeviceMesh?, zero: Bool, makeAdam: (Range<Int>) -> AdamW) {
        self.parameters = parameters
        self.mesh = mesh
        let d = mesh?.dataParallel ?? 1
        self.zero = zero && d > 1
        let trainable = parameters.trainable
        let total = trainable.count
        shardCounts = (0..<d).map { total / d + ($0 < total % d ? 1 : 0) }
        let rank = mesh?.dataRank ?? 0
        let start = trainable.lowerBound + shardCounts.prefix(rank).reduce(0, +)
        adam = makeAdam(self.zero ? start..<(start + shardCounts[rank]) : trainable)
        let entries = parameters.entries.filter(\.trainable)
        modelSummed = entries.filter { $0.sharding.sumsGradient }.map { $0.offset..<($0.offset + $0.count) }
        let leader = (mesh?.modelRank ?? 0) == 0
        counted = entries.filter { leader || $0.sharding.split != .replicated }.map { $0.offset..<($0.offset + $0.count) }
    }

    /// The range of the flat buffers this rank updates (and, under ZeRO-1, holds reduced gradients for).
    var range: Range<Int> { adam.range }

    /// Sums the gradients over the mesh (step 1 above).
    func reduceGradients() throws {
        guard let mesh else { return }
        let (g, total) = (parameters.gradients.data - parameters.trainable.lowerBound, parameters.trainable.count)  // g by flat position
        if mesh.modelParallel > 1 {
            for r in modelSummed { try mesh.modelAxis.allReduceSum(UnsafeMutableBufferPointer(start: g + r.lowerBound, count: r.count)) }
        }
        guard mesh.dataParallel > 1 else { return }
        if zero {
            try mesh.dataAxis.reduceScatterSum(UnsafeMutableBufferPointer(start: parameters.gradients.data, count: total), counts: shardCounts)
        } else {
            for start in stride(from: 0, to: total, by: Self.bucketElements) {
                let n = min(Self.bucketElements, total - start)
                try mesh.dataAxis.allReduceSum(UnsafeMutableBufferPointer(start: parameters.gradients.data + start, count: n))
            }
        }
    }

    /// The global L2 norm of the reduced gradients (PyTorch's `clip_grad_norm_` over the whole model);
    /// the same on every rank.
    func gradientNorm() throws -> Double {
        var local = 0.0
        for r in counted {
            let part = r.clamped(to: range)
            guard !part.isEmpty else { continue }
            local += parameters.gradients.window(offset: part.lowerBound - parameters.trainable.lowerBound, shape: [part.count]).sumOfSquares()
        }
        guard let mesh else { return local.squareRoot() }
        if zero { local = try mesh.dataAxis.allReduceSum([local])[0] }
        if mesh.modelParallel > 1 { local = try mesh.modelAxis.allReduceSum([local])[0] }
        return local.squareRoot()
    }

    /// The global gradient norm and PyTorch's `clip_grad_norm_` factor for `maxNorm`: `maxNorm / (norm +
    /// 1e-6)` when that is below 1, else 1 (and always 1 when `maxNorm` is 0). The factor is applied
    /// inside the AdamW pass (``step(learningRate:gradientScale:)``) rather than in a pass of its own.
    func clipping(maxNorm: Float) throws -> (norm: Double, scale: Float) {
        let norm = try gradientNorm()
        let coefficient = Double(maxNorm) / (norm + 1e-6)
        return (norm, maxNorm > 0 && coefficient < 1 ? Float(coefficient) : 1)
    }

    /// AdamW at `learningRate` on this rank's range with the gradients times `gradientScale` (clipping),
    /// then (ZeRO-1) the parameters all-gathered.
    func step(learningRate: Float, gradientScale: Float) throws {
        adam.learningRate = learningRate
        adam.update(parameters, gradientScale: gradientScale)
        if zero, let mesh {
            try mesh.dataAxis.allGather(UnsafeMutableBufferPointer(start: parameters.values.data + parameters.trainable.lowerBound,
                                                                  count: parameters.trainable.count),
                                        counts: shardCounts)
        }
    }
}
