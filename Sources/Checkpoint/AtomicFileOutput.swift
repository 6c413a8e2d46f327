#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file written under a temporary name in its final directory, then flushed (`fsync`) and renamed
/// over the final name by ``commit()``: a reader of the final name sees the old file or the whole new
/// one, never a half-written one. ``abandon()`` (or an error) removes the temporary file.
///
/// The temporary name is hidden and unique: `.<name>.tmp-<pid>-<random>` next to the final file.
final class AtomicFileOutput {
    /// The final path; errors name it.
    let path: String
    /// The temporary file's path.
    let temporaryPath: String
    private var fd: Int32

    /// Creates the temporary file next to `path`.
    /// - Throws: ``SafeTensorsError`` naming `path` if it cannot be created.
    init(path: String) throws {
        self.path = path
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[...$0]) } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        temporaryPath = directory + ".\(name).tmp-\(getpid())-\(String(UInt64.random(in: 0 ... .max), radix: 16))"
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Self.systemError("open \(temporaryPath)", path: path) }
    }

    deinit { abandon() }

    /// Appends `bytes`, retrying short and interrupted writes.
    /// - Throws: ``SafeTensorsError`` naming the final path if `write` fails (e.g. the disk is full).
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        precondition(fd >= 0, "write after commit or abandon")
        guard var next = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let written = systemWrite(fd, next, min(remaining, 1 << 30))
            if written < 0 {
                if errno == EINTR { continue }
                throw Self.systemError("write", path: path)
            }
            next += written
            remaining -= written
        }
    }

    /// Flushes the data to disk, renames the file to its final name, and flushes the directory entry.
    /// - Throws: ``SafeTensorsError`` naming the final path if `fsync`, `close` or `rename` fails; the
    ///   temporary file is removed then.
    func commit() throws {
        precondition(fd >= 0, "commit after commit or abandon")
        defer { abandon() }
        guard fsync(fd) == 0 else { throw Self.systemError("fsync", path: path) }
        let status = close(fd)
        fd = -1
        guard status == 0 else { throw Self.systemError("close", path: path) }
        guard rename(temporaryPath, path) == 0 else { throw Self.systemError("rename", path: path) }
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            _ = fsync(directoryFD)  // best effort: some file systems refuse fsync on directories
            close(directoryFD)
        }
        finished = true
    }

    /// Whether the temporary file is gone (renamed or removed).
    private var finished = false

    /// Closes and removes the temporary file unless it was committed. Idempotent.
    func abandon() {
        if fd >= 0 {
            close(fd)
            fd = -1
        }
        if !finished {
            unlink(temporaryPath)
            finished = true
        }
    }

    private static func systemError(_ call: String, path: String) -> SafeTensorsError {
        MappedFile.systemError(call, path: path)
    }
}

/// `write(2)`, reachable from inside ``AtomicFileOutput`` whose own `write` shadows it.
private func systemWrite(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, bytes, count)
}
