import Foundation
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

    /// A plain reason for an error of a Foundation file operation (`Data.write`, `createDirectory`,
    /// `contentsOfDirectory`, ...), without the path and never Foundation's raw dump
    /// (`NSCocoaErrorDomain Code=513 ... UserInfo={...}`): the `errno` message when the error carries
    /// one (`Permission denied (errno 13)`), else the error's own text.
    public static func reason(of error: any Error) -> String {
        if let error = error as? FileSystemError { return error.reason }
        let ns = error as NSError
        if ns.domain == NSPOSIXErrorDomain { return "\(String(cString: strerror(Int32(ns.code)))) (errno \(ns.code))" }
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return "\(String(cString: strerror(Int32(underlying.code)))) (errno \(underlying.code))"
        }
        if ns.domain == NSCocoaErrorDomain, let posix = cocoaErrno[ns.code] {
            return "\(String(cString: strerror(posix))) (errno \(posix))"
        }
        return error.localizedDescription
    }

    /// A Foundation file error (Cocoa or POSIX domain) as one line, `<path>: <reason>` when it names its
    /// file; nil for any other error.
    public static func line(for error: any Error) -> String? {
        let ns = error as NSError
        guard ns.domain == NSCocoaErrorDomain || ns.domain == NSPOSIXErrorDomain else { return nil }
        let path = (ns.userInfo[NSFilePathErrorKey] as? String) ?? (ns.userInfo[NSURLErrorKey] as? URL)?.path
        return (path.map { "\($0): " } ?? "") + reason(of: error)
    }

    /// Foundation's file error codes and the `errno` each stands for.
    private static let cocoaErrno: [Int: Int32] = [
        CocoaError.fileNoSuchFile.rawValue: ENOENT, CocoaError.fileReadNoSuchFile.rawValue: ENOENT,
        CocoaError.fileReadNoPermission.rawValue: EACCES, CocoaError.fileWriteNoPermission.rawValue: EACCES,
        CocoaError.fileWriteOutOfSpace.rawValue: ENOSPC, CocoaError.fileWriteFileExists.rawValue: EEXIST,
        CocoaError.fileWriteVolumeReadOnly.rawValue: EROFS,
    ]
}

/// The calling thread's `errno` (reachable where a parameter named `errno` shadows it).
private func currentErrno() -> Int32 { errno }
