import Foundation

/// How a checkpoint is checked before a run resumes from it (``CheckpointDirectory/resolve(resume:verifier:log:)``):
/// it must open, verify in full (``CheckpointReader/verify()``) and hold training state.
///
/// HDF5 is a C library that trusts much of a file's structure: a damaged file it cannot make sense of can
/// crash it (segfault, double free) rather than fail with an error, and a crash while choosing where to
/// resume would crash every restart of the run. ``childProcess(executable:arguments:)`` checks in a
/// separate process, so such a file is one more damaged candidate to fall back from; `gemma-train` uses
/// it with its hidden `verify-checkpoint` command. ``inProcess`` checks in this process (tests, and
/// callers that have no executable to run).
public struct CheckpointVerifier: Sendable {
    private let body: @Sendable (String) throws -> Void

    /// A verifier that runs `body`, which throws a ``CheckpointError`` for a file that cannot be resumed from.
    public init(_ body: @escaping @Sendable (String) throws -> Void) {
        self.body = body
    }

    /// Throws a ``CheckpointError`` naming `path` unless it can be resumed from.
    public func check(_ path: String) throws {
        try body(path)
    }

    /// Checks in this process (``checkResumable(_:)``).
    public static let inProcess = CheckpointVerifier { try checkResumable($0) }

    /// Checks in a child process: `executable arguments... path`, which must check the file with
    /// ``checkResumable(_:)`` and exit 0 if it passes, or exit non-zero with the reason as the last line
    /// of its standard error (`error: <path>: ...`, as `gemma-train verify-checkpoint` does). A child
    /// killed by a signal (the library crashed on the file) is an error naming the file and the signal.
    /// - Parameters:
    ///   - executable: The program, e.g. `/proc/self/exe` (this program itself, on Linux).
    ///   - arguments: The arguments before the path, e.g. `["verify-checkpoint"]`.
    public static func childProcess(executable: String, arguments: [String]) -> CheckpointVerifier {
        CheckpointVerifier { path in
            let child = Process()
            child.executableURL = URL(fileURLWithPath: executable)
            child.arguments = arguments + [path]
            let errors = Pipe()
            child.standardOutput = FileHandle.nullDevice
            child.standardError = errors
            child.standardInput = FileHandle.nullDevice
            do {
                try child.run()
            } catch {
                throw CheckpointError(file: path, reason: "cannot start the verifier \(executable): \(error.localizedDescription)")
            }
            let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            child.waitUntilExit()
            if child.terminationReason == .uncaughtSignal {
                throw CheckpointError(file: path, reason: "reading it crashed the HDF5 library (signal \(child.terminationStatus) "
                                      + "in the verifying child process): the file is damaged")
            }
            guard child.terminationStatus != 0 else { return }
            let last = stderr.split(whereSeparator: \.isNewline).last.map(String.init) ?? ""
            let line = last.hasPrefix("error: ") ? String(last.dropFirst("error: ".count)) : last
            let reason = line.hasPrefix(path + ": ") ? String(line.dropFirst(path.count + 2)) : line
            throw CheckpointError(file: path, reason: reason.isEmpty ? "the verifier exited with \(child.terminationStatus)" : reason)
        }
    }

    /// Throws a ``CheckpointError`` unless `path` opens, verifies and holds training state.
    public static func checkResumable(_ path: String) throws {
        let reader = try CheckpointReader.open(path)
        _ = try reader.trainingState()
        try reader.verify()
    }
}
