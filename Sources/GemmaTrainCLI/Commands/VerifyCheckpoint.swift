import ArgumentParser
import Foundation
import Training

/// `gemma-train verify-checkpoint PATH` (hidden): exits 0 if a run can resume from the checkpoint at
/// PATH (it opens, every dataset verifies, it holds training state), else prints one line `error: ...`
/// and exits 1. `--resume` runs it as a child process for each candidate
/// (``CheckpointVerifier/childProcess(executable:arguments:)``), so a file that crashes the HDF5 library
/// is a candidate to fall back from rather than the end of the run.
struct VerifyCheckpoint: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-checkpoint", abstract: "Exit 0 if a run can resume from the checkpoint (used by --resume).",
        shouldDisplay: false)

    @Argument(help: "A GemmaTrain .h5 training checkpoint.")
    var path: String

    func run() throws {
        try reportingErrors { try CheckpointVerifier.checkResumable(path) }
    }

    /// This program run as `verify-checkpoint PATH` for each candidate.
    static let inChildProcess = CheckpointVerifier.childProcess(executable: ChildProcess.selfExecutable,
                                                                arguments: ["verify-checkpoint"])
}

/// Running this program again as a child process, for work that may crash a C library on a damaged file.
enum ChildProcess {
    /// This program's executable (Linux: the kernel's link to it).
    static let selfExecutable = "/proc/self/exe"

    /// Runs this program with `arguments`, capturing its output. A crashed child prints no backtrace.
    /// - Returns: How it ended, and what it wrote to standard output and standard error.
    static func run(_ arguments: [String]) throws -> (crashed: Bool, status: Int32, stdout: Data, stderr: Data) {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: selfExecutable)
        child.arguments = arguments
        child.environment = ProcessInfo.processInfo.environment.merging(["SWIFT_BACKTRACE": "enable=no"]) { $1 }
        let out = Pipe(), err = Pipe()
        child.standardOutput = out
        child.standardError = err
        child.standardInput = FileHandle.nullDevice
        try child.run()
        // Drain standard error on another thread so neither pipe fills while the other is read.
        nonisolated(unsafe) var errors = Data()
        let drained = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            errors = err.fileHandleForReading.readDataToEndOfFile()
            drained.signal()
        }
        let output = out.fileHandleForReading.readDataToEndOfFile()
        drained.wait()
        child.waitUntilExit()
        return (child.terminationReason == .uncaughtSignal, child.terminationStatus, output, errors)
    }
}
