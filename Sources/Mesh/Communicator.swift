import CMPI

/// A group of ranks that run collectives together: the world, and the `data` and `model`
/// sub-communicators of the 2-D mesh (`MPI_Comm_split`).
///
/// Collectives must be called by every rank of the communicator, in the same order, from the thread
/// that initialised MPI (``World`` asks for `MPI_THREAD_FUNNELED`). Every failed call throws an
/// ``MPIError`` naming the call. Element counts above `Int32.max` are sent in pieces where the
/// collective allows it (reductions); the vector collectives take `Int32` counts per rank.
public struct Communicator {
    /// The MPI handle; owned by whoever created it (`MPI_COMM_WORLD` is never freed).
    let handle: MPI_Comm
    /// This process's index in the communicator, `0..<size`.
    public let rank: Int
    /// The number of ranks in the communicator.
    public let size: Int

    /// Wraps an MPI communicator and reads its rank and size.
    /// - Throws: ``MPIError`` if `MPI_Comm_rank` or `MPI_Comm_size` fails.
    init(handle: MPI_Comm) throws {
        var rank: Int32 = 0
        var size: Int32 = 0
        try mpiCheck(MPI_Comm_rank(handle, &rank), "MPI_Comm_rank")
        try mpiCheck(MPI_Comm_size(handle, &size), "MPI_Comm_size")
        self.handle = handle
        self.rank = Int(rank)
        self.size = Int(size)
    }

    /// A sub-communicator of the ranks that pass the same `color`, ordered by `key`
    /// (`MPI_Comm_split`); errors on it return codes, like the world's.
    /// - Throws: ``MPIError`` if `MPI_Comm_split` fails.
    public func split(color: Int, key: Int) throws -> Communicator {
        var split: MPI_Comm? = gt_mpi_comm_null()
        try mpiCheck(MPI_Comm_split(handle, Int32(color), Int32(key), &split), "MPI_Comm_split")
        guard let sub = split else {
            throw MPIError(call: "MPI_Comm_split", code: gt_mpi_err_other(), message: "returned no communicator")
        }
        try mpiCheck(MPI_Comm_set_errhandler(sub, gt_mpi_errors_return()), "MPI_Comm_set_errhandler")
        return try Communicator(handle: sub)
    }

    /// Sums `buffer` element-wise over all ranks, in place: afterwards every rank holds the sum.
    /// - Throws: ``MPIError`` if `MPI_Allreduce` fails.
    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        try allReduce(buffer, gt_mpi_float(), gt_mpi_sum())
    }

    /// Element-wise maximum over all ranks, in place.
    /// - Throws: ``MPIError`` if `MPI_Allreduce` fails.
    public func allReduceMax(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        try allReduce(buffer, gt_mpi_float(), gt_mpi_max())
    }

    /// Sums `values` (metrics, norms, counts) over all ranks in double precision.
    /// - Throws: ``MPIError`` if `MPI_Allreduce` fails.
    public func allReduceSum(_ values: [Double]) throws -> [Double] {
        var out = values
        try out.withUnsafeMutableBufferPointer { try allReduce($0, gt_mpi_double(), gt_mpi_sum()) }
        return out
    }

    /// The element-wise maximum of `values` over all ranks, in double precision.
    /// - Throws: ``MPIError`` if `MPI_Allreduce` fails.
    public func allReduceMax(_ values: [Double]) throws -> [Double] {
        var out = values
        try out.withUnsafeMutableBufferPointer { try allReduce($0, gt_mpi_double(), gt_mpi_max()) }
        return out
    }

    /// `MPI_Allreduce` in place, in pieces of at most `Int32.max` elements.
    private func allReduce<T>(_ buffer: UnsafeMutableBufferPointer<T>, _ type: MPI_Datatype, _ op: MPI_Op) throws {
        guard let base = buffer.baseAddress, size > 1 else { return }
        var offset = 0
        while offset < buffer.count {
            let count = min(buffer.count - offset, Int(Int32.max))
            try mpiCheck(MPI_Allreduce(gt_mpi_in_place(), base + offset, Int32(count), type, op, handle), "MPI_Allreduce")
            offset += count
        }
    }

    /// Reduce-scatter in place over a buffer cut into consecutive pieces, piece `r` of `counts[r]`
    /// elements belonging to rank `r`: afterwards this rank's piece holds the sum over ranks of that
    /// piece (the rest of the buffer is unspecified). `MPI_Reduce_scatter`.
    /// - Throws: ``MPIError`` if the call fails.
    public func reduceScatterSum(_ buffer: UnsafeMutableBufferPointer<Float>, counts: [Int]) throws {
        precondition(counts.count == size && counts.reduce(0, +) == buffer.count, "reduceScatterSum: counts \(counts) for \(buffer.count) elements")
        guard let base = buffer.baseAddress, size > 1 else { return }
        let counts32 = counts.map { Int32($0) }
        let mine = base + counts.prefix(rank).reduce(0, +)
        // MPI_IN_PLACE for reduce-scatter takes the whole buffer as input and leaves the result at its start.
        try mpiCheck(MPI_Reduce_scatter(gt_mpi_in_place(), base, counts32, gt_mpi_float(), gt_mpi_sum(), handle),
                     "MPI_Reduce_scatter")
        if mine != base { mine.update(from: base, count: counts[rank]) }
    }

    /// All-gather in place: rank `r` contributes piece `r` (`counts[r]` elements at their offset in
    /// `buffer`); afterwards every rank holds every piece. `MPI_Allgatherv`.
    /// - Throws: ``MPIError`` if the call fails.
    public func allGather(_ buffer: UnsafeMutableBufferPointer<Float>, counts: [Int]) throws {
        precondition(counts.count == size && counts.reduce(0, +) == buffer.count, "allGather: counts \(counts) for \(buffer.count) elements")
        guard let base = buffer.baseAddress, size > 1 else { return }
        let counts32 = counts.map { Int32($0) }
        var offsets: [Int32] = [], next: Int32 = 0
        for c in counts32 { offsets.append(next); next += c }
        try mpiCheck(MPI_Allgatherv(gt_mpi_in_place(), 0, gt_mpi_float(), base, counts32, offsets, gt_mpi_float(), handle),
                     "MPI_Allgatherv")
    }

    /// Gathers `local` from every rank at `root`, in rank order (`MPI_Gatherv`): returns the
    /// concatenation at `root`, an empty array elsewhere.
    /// - Throws: ``MPIError`` if the call fails.
    public func gather(_ local: UnsafeBufferPointer<Float>, root: Int = 0) throws -> [Float] {
        guard size > 1 else { return Array(local) }
        var count = Int32(local.count)
        var counts = [Int32](repeating: 0, count: size)
        try mpiCheck(MPI_Gather(&count, 1, gt_mpi_int32(), &counts, 1, gt_mpi_int32(), Int32(root), handle), "MPI_Gather")
        var offsets: [Int32] = [], next: Int32 = 0
        for c in counts { offsets.append(next); next += c }
        var out = [Float](repeating: 0, count: rank == root ? Int(next) : 0)
        try out.withUnsafeMutableBufferPointer { out in
            try mpiCheck(MPI_Gatherv(local.baseAddress, count, gt_mpi_float(), out.baseAddress, counts, offsets,
                                     gt_mpi_float(), Int32(root), handle), "MPI_Gatherv")
        }
        return out
    }

    /// Sends `root`'s bytes to every rank (`MPI_Bcast` of the length, then of the bytes).
    /// - Throws: ``MPIError`` if a call fails.
    public func broadcast(_ bytes: [UInt8], root: Int = 0) throws -> [UInt8] {
        guard size > 1 else { return bytes }
        var count = Int64(bytes.count)
        try mpiCheck(MPI_Bcast(&count, 1, gt_mpi_int64(), Int32(root), handle), "MPI_Bcast")
        var out = rank == root ? bytes : [UInt8](repeating: 0, count: Int(count))
        try out.withUnsafeMutableBytes { raw in
            try mpiCheck(MPI_Bcast(raw.baseAddress, Int32(count), gt_mpi_uint8(), Int32(root), handle), "MPI_Bcast")
        }
        return out
    }

    /// Blocks until every rank of the communicator has called `barrier()`.
    /// - Throws: ``MPIError`` if `MPI_Barrier` fails.
    public func barrier() throws {
        try mpiCheck(MPI_Barrier(handle), "MPI_Barrier")
    }
}
