import CMPI
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The MPI job this process belongs to: initialises MPI, knows this process's rank in
/// `MPI_COMM_WORLD`, and aborts the whole job when one rank fails.
///
/// Run under `mpirun -np N` for N ranks, or directly for a singleton job (rank 0, size 1).
/// MPI can be initialised and finalised once per process: creating a second `World` joins the
/// existing initialisation, and no `World` can be created after ``finalize()``.
///
/// ```swift
/// let world = try World()
/// try gradients.withUnsafeMutableBufferPointer { try world.allReduceSum($0) }
/// if world.rank == 0 { print("step done") }
/// try world.finalize()
/// ```
public final class World {
    /// The world communicator (`MPI_COMM_WORLD`): every rank of the job.
    public let communicator: Communicator

    /// This process's rank in the job, `0..<size`.
    public var rank: Int { communicator.rank }
    /// The number of processes in the job.
    public var size: Int { communicator.size }

    /// Initialises MPI with `MPI_THREAD_FUNNELED` unless it already is, and makes MPI errors on the
    /// world communicator return codes (thrown as ``MPIError``) instead of aborting silently.
    ///
    /// Only the thread that calls this may make MPI calls afterwards (other threads, such as
    /// OpenBLAS's, must not).
    /// - Throws: ``MPIError`` if MPI fails to initialise, was already finalised, or cannot provide
    ///   `MPI_THREAD_FUNNELED`.
    public init() throws {
        var initialized: Int32 = 0
        var finalized: Int32 = 0
        try mpiCheck(MPI_Initialized(&initialized), "MPI_Initialized")
        try mpiCheck(MPI_Finalized(&finalized), "MPI_Finalized")
        if finalized != 0 {
            throw MPIError(call: "MPI_Init_thread", code: gt_mpi_err_other(),
                           message: "MPI was already finalized in this process and cannot be initialized again")
        }
        if initialized == 0 {
            var provided: Int32 = 0
            try mpiCheck(MPI_Init_thread(nil, nil, gt_mpi_thread_funneled(), &provided), "MPI_Init_thread")
            if provided < gt_mpi_thread_funneled() {
                throw MPIError(call: "MPI_Init_thread", code: gt_mpi_err_other(),
                               message: "the MPI library provides thread level \(provided), below MPI_THREAD_FUNNELED")
            }
        }
        try mpiCheck(MPI_Comm_set_errhandler(gt_mpi_comm_world(), gt_mpi_errors_return()), "MPI_Comm_set_errhandler")
        communicator = try Communicator(handle: gt_mpi_comm_world())
    }

    /// Sums `buffer` element-wise over all ranks of the job, in place.
    /// - Throws: ``MPIError`` if `MPI_Allreduce` fails.
    /// - SeeAlso: ``Communicator/allReduceSum(_:)``
    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        try communicator.allReduceSum(buffer)
    }

    /// Blocks until every rank of the job has called `barrier()`.
    /// - Throws: ``MPIError`` if `MPI_Barrier` fails.
    public func barrier() throws {
        try communicator.barrier()
    }

    /// Ends the whole job: prints `rank R: message` to standard error and calls `MPI_Abort`, which
    /// kills every rank, so none is left waiting in a collective.
    /// - Parameters:
    ///   - code: The exit code for the job.
    ///   - message: What went wrong, for the user.
    public func abort(code: Int32 = 1, message: String) -> Never {
        let line = Array("rank \(rank): \(message)\n".utf8)
        _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
        if !Self.isFinalized {
            _ = MPI_Abort(gt_mpi_comm_world(), code)
        }
        exit(code)  // MPI_Abort does not return; this covers a job that was already finalised.
    }

    /// Shuts MPI down (`MPI_Finalize`) once every rank is done. Idempotent; after it no MPI call, and
    /// no new `World`, is possible in this process.
    /// - Throws: ``MPIError`` if `MPI_Finalize` fails.
    public func finalize() throws {
        guard !Self.isFinalized else { return }
        try mpiCheck(MPI_Finalize(), "MPI_Finalize")
    }

    /// Whether MPI has been finalised in this process.
    public static var isFinalized: Bool {
        var finalized: Int32 = 0
        return MPI_Finalized(&finalized) == gt_mpi_success() && finalized != 0
    }
}
