#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file written through a descriptor and published atomically by an ``AtomicPath``: bytes go to the
/// hidden temporary file, ``commit()`` closes it and lets the ``AtomicPath`` `fsync` and rename it over
/// the final name. ``abandon()`` (or an error, or releasing it uncommitted) removes the temporary file.
public final class AtomicFileOutput {
    /// The final path; errors name it.
    public var path: String { atomic.path }
    private let atomic: AtomicPath
    private var fd: Int32

    /// Creates the temporary file next to `path`.
    /// - Throws: ``SafeTensorsError`` naming `path` if it cannot be created.
    public init(path: String) throws {
        atomic = AtomicPath(path)
        fd = open(atomic.temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw MappedFile.systemError("open \(atomic.temporaryPath)", path: path) }
    }

    deinit { abandon() }

    /// Appends `bytes`, retrying short and interrupted writes.
    /// - Throws: ``SafeTensorsError`` naming the final path if `write` fails (e.g. the disk is full).
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        precondition(fd >= 0, "write after commit or abandon")
        guard var next = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let written = systemWrite(fd, next, min(remaining, 1 << 30))
            if written < 0 {
                if errno == EINTR { continue }
                throw MappedFile.systemError("write", path: path)
            }
            next += written
            remaining -= written
        }
    }

    /// Closes the file and publishes it (``AtomicPath/commit()``: `fsync`, rename, directory `fsync`).
    /// - Throws: ``SafeTensorsError`` naming the final path if `close`, `fsync` or `rename` fails; the
    ///   temporary file is removed then.
    public func commit() throws {
        precondition(fd >= 0, "commit after commit or abandon")
        defer { abandon() }
        let status = close(fd)
        fd = -1
        guard status == 0 else { throw MappedFile.systemError("close", path: path) }
        do {
            try atomic.commit()
        } catch let error as FileSystemError {
            throw SafeTensorsError(file: error.path, reason: error.reason, errno: error.errno)
        }
    }

    /// Closes and removes the temporary file unless it was committed. Idempotent.
    public func abandon() {
        if fd >= 0 {
            close(fd)
            fd = -1
        }
        atomic.abandon()
    }
}

/// `write(2)`, reachable from inside ``AtomicFileOutput`` whose own `write` shadows it.
private func systemWrite(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, bytes, count)
}
