#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only into memory (`mmap`, `MAP_PRIVATE`), unmapped when released. Used for
/// checkpoints, safetensors files and prepared token shards.
///
/// Pages are read from disk on first touch, so opening a multi-gigabyte checkpoint costs nothing until
/// its tensors are read. The file descriptor is closed right after mapping. If another process
/// truncates the file while it is mapped, touching the lost pages raises SIGBUS: checkpoints are
/// replaced by rename, never rewritten in place.
public final class MappedFile: @unchecked Sendable {  // immutable after init; the mapping is read-only
    /// The path the file was opened with; errors name it.
    public let path: String
    /// The file's bytes (empty for an empty file).
    public let bytes: UnsafeRawBufferPointer

    /// Maps the file at `path`.
    /// - Throws: ``SafeTensorsError`` naming the file and carrying `errno` if `open`, `fstat` or `mmap`
    ///   fails, or if `path` is not a regular file.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Self.systemError("open", path: path) }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw Self.systemError("fstat", path: path) }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw SafeTensorsError(file: path, reason: "not a regular file")
        }
        let size = Int(status.st_size)
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let address, address != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw Self.systemError("mmap", path: path)
        }
        bytes = UnsafeRawBufferPointer(start: address, count: size)
    }

    deinit {
        if let base = bytes.baseAddress {
            munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
        }
    }

    /// An error for a failed system call, with `errno` and its message.
    static func systemError(_ call: String, path: String) -> SafeTensorsError {
        let code = errno
        return SafeTensorsError(file: path, reason: "\(call) failed: \(String(cString: strerror(code))) (errno \(code))",
                                errno: code)
    }
}
