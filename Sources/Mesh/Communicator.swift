import CMPI

/// A group of ranks that run collectives together: the world, and later the `data` and `model`
/// sub-communicators of the 2-D mesh (`MPI_Comm_split`).
///
/// Collectives must be called by every rank of the communicator, in the same order, from the thread
/// that initialised MPI (``World`` asks for `MPI_THREAD_FUNNELED`).
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

    /// Sums `buffer` element-wise over all ranks, in place: afterwards every rank holds the sum.
    ///
    /// Buffers longer than `Int32.max` elements are reduced in pieces (MPI counts are `int`).
    /// - Parameter buffer: The local values on entry, the sum over ranks on return.
    /// - Throws: ``MPIError`` if `MPI_Allreduce` fails.
    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        guard let base = buffer.baseAddress else { return }
        var offset = 0
        while offset < buffer.count {
            let count = min(buffer.count - offset, Int(Int32.max))
            try mpiCheck(
                MPI_Allreduce(gt_mpi_in_place(), base + offset, Int32(count), gt_mpi_float(), gt_mpi_sum(), handle),
                "MPI_Allreduce")
            offset += count
        }
    }

    /// Blocks until every rank of the communicator has called `barrier()`.
    /// - Throws: ``MPIError`` if `MPI_Barrier` fails.
    public func barrier() throws {
        try mpiCheck(MPI_Barrier(handle), "MPI_Barrier")
    }
}
