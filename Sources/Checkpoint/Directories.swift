#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Creating directories with errors a user can act on: the component that failed and `errno`'s reason
/// (`runs/a: mkdir /etc/passwd/x failed: Not a directory (errno 20)`), where Foundation's
/// `createDirectory` may only say "The operation could not be completed".
public enum Directories {
    /// Creates `path` and any missing parents (`mkdir -p`); an existing directory is fine.
    /// - Throws: ``FileSystemError`` naming `path`, the component that could not be created and why.
    public static func create(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            if mkdir(prefix, 0o755) != 0 {
                let failed = errno
                var status = stat()
                guard failed == EEXIST, stat(prefix, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR else {
                    throw FileSystemError(path: path, call: "mkdir \(prefix)", errno: failed == EEXIST ? ENOTDIR : failed)
                }
            }
            prefix += "/"
        }
    }
}
