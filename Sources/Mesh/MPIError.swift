import CMPI

/// A failed MPI call: which call, the code it returned and MPI's text for that code.
///
/// Mesh sets `MPI_ERRORS_RETURN` on the world communicator, so a failing collective comes back as
/// this error instead of killing the process silently; callers that cannot recover should pass it to
/// ``World/abort(code:message:)`` so that no other rank is left waiting.
public struct MPIError: Error, CustomStringConvertible {
    /// The MPI function that failed, e.g. `"MPI_Allreduce"`.
    public let call: String
    /// The error code it returned.
    public let code: Int32
    /// MPI's description of `code` (from `MPI_Error_string`) or of the failed condition.
    public let message: String

    public var description: String { "\(call) failed (MPI error \(code)): \(message)" }
}

/// MPI's text for an error code. `MPI_Error_string` may be called before `MPI_Init` and after
/// `MPI_Finalize`.
func mpiErrorString(_ code: Int32) -> String {
    let capacity = Int(gt_mpi_max_error_string()) + 1
    var buffer = [CChar](repeating: 0, count: capacity)
    var length: Int32 = 0
    guard MPI_Error_string(code, &buffer, &length) == gt_mpi_success() else {
        return "unknown MPI error code \(code)"
    }
    let bytes = buffer.prefix(max(0, min(Int(length), capacity - 1))).map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}

/// Throws an ``MPIError`` naming `call` unless `code` is `MPI_SUCCESS`.
/// - Parameters:
///   - code: The return value of an MPI function.
///   - call: That function's name, e.g. `"MPI_Allreduce"`.
func mpiCheck(_ code: Int32, _ call: String) throws {
    guard code != gt_mpi_success() else { return }
    throw MPIError(call: call, code: code, message: mpiErrorString(code))
}
