import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An exclusive lock on a run directory, so that two runs never write one directory at once.
///
/// It is `flock(2)` on `<run dir>/.lock`, held for the life of this object: the kernel releases it when
/// the process ends, however it ends (a crash or SIGKILL leaves no stale lock). The file holds the
/// holder's pid, host and start time, which a refused run names:
///
///     error: run.dir runs/a is in use by another run (pid 4711 on host node1, since 2026-11-29T18:00:00Z);
///     wait for it to end, or choose another run.dir
public final class RunDirectoryLock {
    /// The lock file's name in the run directory.
    public static let fileName = ".lock"
    private let descriptor: Int32

    /// Takes the lock on `directory` (which must exist) or throws at once; never waits.
    /// - Throws: ``TrainingError`` naming the directory and the holder when another process holds it, or
    ///   the system's reason when the lock file cannot be opened.
    public init(directory: String) throws {
        let path = (directory as NSString).appendingPathComponent(Self.fileName)
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw TrainingError("run.dir \(directory): cannot create its lock file: \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(descriptor)
            if reason == EWOULDBLOCK {
                throw TrainingError("run.dir \(directory) is in use by another run (\(holder.isEmpty ? "holder unknown" : holder)); "
                                    + "wait for it to end, or choose another run.dir")
            }
            throw TrainingError("run.dir \(directory): cannot lock \(Self.fileName): \(String(cString: strerror(reason)))")
        }
        let holder = "pid \(getpid()) on host \(ProcessInfo.processInfo.hostName), since \(Self.now())\n"
        _ = ftruncate(descriptor, 0)
        _ = holder.withCString { pwrite(descriptor, $0, strlen($0), 0) }
    }

    deinit { close(descriptor) }  // closing the descriptor releases the lock

    private static func now() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: Date())
    }
}
