#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file published atomically: it is written under a hidden temporary name in its final directory,
/// then ``commit()`` flushes it to disk (`fsync`), renames it over the final name and flushes the
/// directory entry. A reader of the final name sees the old file or the whole new one, never a
/// half-written one, even if the writer is killed or the machine loses power.
///
/// The temporary name is `.<name>.tmp-<pid>-<random hex>` next to the final file (``isTemporaryName(_:)``
/// recognises it); ``abandon()``, or releasing an uncommitted instance, removes it.
///
/// ```swift
/// try AtomicPath.write("runs/a/latest") { temporary in
///     try Data("ckpt-00000010.h5\n".utf8).write(to: URL(fileURLWithPath: temporary))
/// }
/// ```
/// HDF5 files go through ``H5File/write(atomically:_:)``, which also discards a half-written file
/// properly when a write fails.
public final class AtomicPath {
    /// The final path; errors name it.
    public let path: String
    /// Where the body writes: a hidden, unique name in the final path's directory. Not created here.
    public let temporaryPath: String
    /// Whether the temporary file is gone (renamed or removed).
    private var finished = false

    /// Picks a fresh temporary name next to `path`; creates nothing.
    public init(_ path: String) {
        self.path = path
        let slash = path.lastIndex(of: "/")
        let directoryPrefix = slash.map { String(path[...$0]) } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let random = String(UInt64.random(in: 0 ... .max), radix: 16)
        temporaryPath = directoryPrefix + ".\(name).tmp-\(getpid())-\(random)"
    }

    deinit { abandon() }

    /// Writes a file atomically: calls `body` with ``temporaryPath``, then ``commit()``s. The temporary
    /// file is removed if `body` or the commit throws.
    /// - Parameters:
    ///   - path: The final path.
    ///   - body: Writes the whole file at the path it is given, and closes it.
    /// - Throws: Whatever `body` throws; ``FileSystemError`` naming `path` if the commit fails.
    public static func write(_ path: String, _ body: (String) throws -> Void) throws {
        let atomic = AtomicPath(path)
        defer { atomic.abandon() }
        try body(atomic.temporaryPath)
        try atomic.commit()
    }

    /// Publishes the temporary file: `fsync`s it, renames it over ``path`` and `fsync`s the directory
    /// (best effort: some file systems refuse `fsync` on a directory). The file must be closed by now.
    /// - Throws: ``FileSystemError`` naming ``path`` if `open`, `fsync` or `rename` fails; the temporary
    ///   file is removed then.
    public func commit() throws {
        precondition(!finished, "AtomicPath.commit after commit or abandon: \(path)")
        defer { abandon() }
        let fd = open(temporaryPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileSystemError(path: path, call: "open \(temporaryPath)") }
        if fsync(fd) != 0 {
            let error = FileSystemError(path: path, call: "fsync")
            close(fd)
            throw error
        }
        close(fd)
        guard rename(temporaryPath, path) == 0 else { throw FileSystemError(path: path, call: "rename") }
        finished = true
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            _ = fsync(directoryFD)
            close(directoryFD)
        }
    }

    /// Removes the temporary file unless it was committed. Idempotent.
    public func abandon() {
        guard !finished else { return }
        unlink(temporaryPath)
        finished = true
    }

    /// Whether `name` (a file name, no directory) is a temporary name that an ``AtomicPath`` for
    /// `finalPrefix...` would pick, e.g. `.ckpt-00000010.h5.tmp-4711-9f3a` for prefix `ckpt-`.
    /// - Parameter finalPrefix: The start of the final names to match; `""` matches every temporary name.
    public static func isTemporaryName(_ name: String, finalPrefix: String = "") -> Bool {
        name.hasPrefix("." + finalPrefix) && name.contains(".tmp-")
    }
}
