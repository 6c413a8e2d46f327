#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed system call on a file, naming the file, the call and `errno`, e.g.
/// `runs/a/ckpt-00000010.h5: rename failed: No space left on device (errno 28)`.
public struct FileSystemError: Error, CustomStringConvertible, Sendable {
    /// The path the operation concerned, as it was given.
    public let path: String
    /// The failed call, e.g. `"fsync"` or `"open .ckpt-00000010.h5.tmp-4711-9f3a"`.
    public let call: String
    /// The call's `errno`.
    public let errno: Int32

    /// An error for `call` on `path`, taking the calling thread's current `errno`.
    public init(path: String, call: String) {
        self.init(path: path, call: call, errno: currentErrno())
    }

    public init(path: String, call: String, errno: Int32) {
        self.path = path
        self.call = call
        self.errno = errno
    }

    /// What went wrong, without the path: `rename failed: No space left on device (errno 28)`.
    public var reason: String { "\(call) failed: \(String(cString: strerror(errno))) (errno \(errno))" }

    public var description: String { "\(path): \(reason)" }
}

/// The calling thread's `errno` (reachable where a parameter named `errno` shadows it).
private func currentErrno() -> Int32 { errno }
