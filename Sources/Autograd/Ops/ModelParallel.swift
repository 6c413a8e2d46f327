/// The ranks that hold the shards of one model (the mesh's `model` axis), as the tensor-parallel ops
/// see them. The Training layer adapts an MPI communicator to it; Autograd itself knows no MPI.
///
/// Every rank of the group runs the same ops in the same order, so each collective below is entered
/// by all of them. A failed collective cannot be recovered from inside a backward pass: conforming
/// types end the whole job with a message naming the call.
public protocol ShardGroup: AnyObject {
    /// This rank's index in the group, `0..<size`.
    var rank: Int { get }
    /// Number of ranks sharing the model.
    var size: Int { get }
    /// Element-wise sum over the group, in place.
    func sum(_ buffer: UnsafeMutableBufferPointer<Float>)
    /// Element-wise maximum over the group, in place.
    func max(_ buffer: UnsafeMutableBufferPointer<Float>)
}

extension Tensor {
    /// The elements as a mutable buffer (for collectives).
    var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: data, count: count) }
}

/// Megatron's `f`: the identity forward; backward sums the gradient over `group`. Put it where a
/// replicated activation enters sharded work (before column-parallel projections, before the
/// vocabulary-parallel cross-entropy): each rank's gradient is then only its shards' part, and the sum
/// is the full gradient of the replicated activation. `x` itself when `group` is nil or of size 1.
public func enterShards(_ x: Tensor, _ group: (any ShardGroup)?) -> Tensor {
    guard let group, group.size > 1 else { return x }
    let out = x.detached()  // shares x's elements: the forward is free
    return out.recorded("enterShards", [x]) { g in
        group.sum(g.buffer)  // g is this op's own gradient buffer, released after this closure
        x.accumulateGrad(g)
    }
}

/// Megatron's `g`: sums the partial results of row-parallel work over `group` (attention output and
/// down projections, the vocabulary-parallel embedding); backward passes the gradient through, since
/// every rank's partial contributed to the sum with weight 1. `x` itself when `group` is nil or of size 1.
public func sumOverShards(_ x: Tensor, _ group: (any ShardGroup)?) -> Tensor {
    guard let group, group.size > 1 else { return x }
    let out = x.copy()
    group.sum(out.buffer)
    return out.recorded("sumOverShards", [x]) { g in x.accumulateGrad(g) }
}

/// The rows of a vocabulary-parallel table one rank holds: the tied embedding `[Vp/M, D]` of rank `m`
/// starts at id `m·Vp/M`, where the vocabulary `V` is padded to `Vp`, a multiple of the group size `M`.
/// Padding rows are zero, never looked up and never predicted.
public struct VocabShard {
    /// The ranks sharing the table.
    public let group: any ShardGroup
    /// Global id of the local table's first row.
    public let firstRow: Int
    /// Local rows that are real ids (the rest are padding).
    public let validRows: Int
    /// The whole vocabulary's size `V`.
    public let vocabulary: Int

    public init(group: any ShardGroup, firstRow: Int, validRows: Int, vocabulary: Int) {
        self.group = group
        self.firstRow = firstRow
        self.validRows = validRows
        self.vocabulary = vocabulary
    }
}
