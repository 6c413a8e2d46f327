import Checkpoint
import Foundation

/// The checkpoints of a run directory: `ckpt-00000100.h5` files (the step in the name, at least eight
/// digits), a `latest` marker file holding the name of the newest one written, and the hidden
/// temporary files of saves that never finished (`.ckpt-*.tmp-*`, `.latest.tmp-*`).
///
/// Resuming picks a checkpoint with ``resolve(resume:verifier:log:)``; after each save the trainer calls
/// ``prune(keep:)``. One run writes to a directory at a time.
public struct CheckpointDirectory: Sendable {
    /// The directory's path, as given.
    public let path: String

    /// The marker file's name.
    public static let markerName = "latest"
    private static let prefix = "ckpt-", suffix = ".h5"

    public init(path: String) {
        self.path = path
    }

    /// The directory holding `file`: `runs/a` for `runs/a/ckpt-00000010.h5`, `.` for a bare name.
    public init(containing file: String) {
        let directory = (file as NSString).deletingLastPathComponent
        self.init(path: directory.isEmpty ? "." : directory)
    }

    /// A checkpoint as found in the directory.
    public struct Entry: Equatable, Sendable {
        public let step: Int
        /// `ckpt-00000100.h5`.
        public let fileName: String
        /// The directory's path joined with ``fileName``.
        public let path: String
    }

    /// `ckpt-%08d.h5`: `ckpt-00000100.h5` for step 100.
    public static func fileName(step: Int) -> String {
        String(format: "\(prefix)%08d\(suffix)", step)
    }

    /// The step in a checkpoint file name, or nil if `fileName` is not one.
    public static func step(fromFileName fileName: String) -> Int? {
        guard fileName.hasPrefix(prefix), fileName.hasSuffix(suffix) else { return nil }
        let digits = fileName.dropFirst(prefix.count).dropLast(suffix.count)
        guard digits.count >= 8, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(digits)
    }

    /// Where the checkpoint of `step` goes.
    public func checkpointPath(step: Int) -> String { join(Self.fileName(step: step)) }

    /// The marker file's path.
    public var markerPath: String { join(Self.markerName) }

    /// The checkpoints present, oldest step first; none if the directory does not exist. Files under
    /// these names are always complete: a save publishes them by rename.
    /// - Throws: ``CheckpointError`` naming the directory if it exists but cannot be listed.
    public func checkpoints() throws -> [Entry] {
        try fileNames().compactMap { name in
            Self.step(fromFileName: name).map { Entry(step: $0, fileName: name, path: join(name)) }
        }.sorted { $0.step < $1.step }
    }

    /// The file name the `latest` marker holds, or nil if the marker is missing, empty or not a plain
    /// file name.
    public func latest() -> String? {
        guard let text = try? String(contentsOfFile: markerPath, encoding: .utf8) else { return nil }
        let name = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty, !name.contains("/"), !name.hasPrefix(".") else { return nil }
        return name
    }

    /// Points the `latest` marker at `fileName` (a file in this directory), atomically: a reader sees
    /// the old marker or the new one.
    /// - Throws: ``CheckpointError`` naming the marker if it cannot be written.
    public func setLatest(fileName: String) throws {
        do {
            try AtomicPath.write(markerPath) { temporary in
                try Data((fileName + "\n").utf8).write(to: URL(fileURLWithPath: temporary))
            }
        } catch let error as FileSystemError {
            throw CheckpointError(file: markerPath, reason: error.reason)
        } catch {
            throw CheckpointError(file: markerPath, reason: "cannot write: \(FileSystemError.reason(of: error))")
        }
    }

    /// Removes the temporary files of saves that never finished (`.ckpt-*.tmp-*`, `.latest.tmp-*`).
    /// Call it only when no save is running in this directory.
    /// - Returns: The names removed.
    @discardableResult
    public func removeTemporaryFiles() throws -> [String] {
        let stale = try fileNames().filter {
            AtomicPath.isTemporaryName($0, finalPrefix: Self.prefix) || AtomicPath.isTemporaryName($0, finalPrefix: Self.markerName)
        }
        for name in stale { try remove(name) }
        return stale
    }

    /// Removes all but the newest `keep` of the checkpoints named in `owned` (by step; `keep == 0` keeps
    /// all), never one outside `owned` nor the one the `latest` marker names, and the temporary files of
    /// unfinished saves.
    /// - Parameter owned: The file names the caller's run wrote; nil treats every checkpoint as owned.
    /// - Returns: The checkpoint file names removed, oldest first.
    /// - Throws: ``CheckpointError`` naming a file that cannot be removed.
    @discardableResult
    public func prune(keep: Int, among owned: Set<String>? = nil) throws -> [String] {
        precondition(keep >= 0, "prune(keep: \(keep)): keep must be >= 0")
        try removeTemporaryFiles()
        guard keep > 0 else { return [] }
        let marked = latest()
        let candidates = try checkpoints().filter { owned?.contains($0.fileName) ?? true }
        let removed = candidates.dropLast(keep).map(\.fileName).filter { $0 != marked }
        for name in removed { try remove(name) }
        return removed
    }

    private func join(_ name: String) -> String {
        path.hasSuffix("/") ? path + name : path + "/" + name
    }

    /// The directory's entries; none if it does not exist.
    private func fileNames() throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return [] }
        do {
            return try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            throw CheckpointError(file: path, reason: "cannot list the directory: \(FileSystemError.reason(of: error))")
        }
    }

    private func remove(_ name: String) throws {
        guard unlink(join(name)) == 0 || errno == ENOENT else {
            throw CheckpointError(file: join(name), reason: FileSystemError(path: join(name), call: "unlink").reason)
        }
    }
}
