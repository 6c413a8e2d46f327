import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed metrics or event-file operation, naming the file and, for TensorBoard event files, the
/// record (0-based), e.g. `runs/x/events.out.tfevents.1700000000.node1: record 3: data CRC mismatch`.
public struct MetricsError: Error, CustomStringConvertible {
    /// The file's path.
    public let file: String
    /// The 0-based index of the record in an event file, if the error concerns one.
    public let record: Int?
    /// What is wrong, e.g. `"truncated: 12 of 20 data bytes"`.
    public let reason: String
    /// The `errno` of a failed system call, if that was the cause.
    public let errno: Int32?

    public init(file: String, record: Int? = nil, reason: String, errno: Int32? = nil) {
        self.file = file
        self.record = record
        self.reason = reason
        self.errno = errno
    }

    public var description: String {
        var text = file + ": "
        if let record { text += "record \(record): " }
        return text + reason
    }

    /// An error for the failed system call `call`, read from `errno`.
    static func system(_ call: String, file: String) -> MetricsError {
        let code = lastErrno()
        return MetricsError(file: file, reason: "\(call) failed: \(String(cString: strerror(code)))", errno: code)
    }
}

/// A file opened for appending whose every ``write(_:)`` is one `write(2)` of whole lines or records:
/// nothing is buffered in the process, so a crash loses at most the write in progress.
final class AppendFile {
    let path: String
    private var fd: Int32

    /// Opens `path` for appending; with `exclusive`, fails with `EEXIST` if it exists.
    init(path: String, exclusive: Bool = false) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (exclusive ? O_EXCL : 0), 0o644)
        guard fd >= 0 else { throw MetricsError.system("open", file: path) }
    }

    deinit { if fd >= 0 { _ = closeDescriptor(fd) } }

    func write(_ bytes: [UInt8]) throws {
        guard fd >= 0 else { throw MetricsError(file: path, reason: "write after close") }
        try bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = writeDescriptor(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if lastErrno() == EINTR { continue }
                    throw MetricsError.system("write", file: path)
                }
                done += n
            }
        }
    }

    /// Flushes to the device (`fsync`) and closes; later writes throw.
    func close() throws {
        guard fd >= 0 else { return }
        defer { fd = -1 }
        if fsync(fd) != 0 && lastErrno() != EINVAL { throw MetricsError.system("fsync", file: path) }
        if closeDescriptor(fd) != 0 { throw MetricsError.system("close", file: path) }
    }
}

// File-scope wrappers: inside the types above, `errno`, `write` and `close` name members.
private func lastErrno() -> Int32 { errno }
private func closeDescriptor(_ fd: Int32) -> Int32 { close(fd) }
private func writeDescriptor(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int { write(fd, p, n) }
