import ArgumentParser
import Checkpoint
import Foundation

/// The checks every command that writes an output path makes before it writes anything, so that a
/// mistyped path never replaces a model: an existing file, or a directory that is not empty, is
/// refused unless `--force`; a missing parent directory is named (not the hidden temporary file the
/// write would have used).
enum OutputPath {
    /// What the command writes at the path.
    enum Kind { case file, directory }

    /// Throws ``ValidationError`` naming `option` and `path` when writing there could lose data or
    /// cannot start.
    static func check(_ path: String, kind: Kind, force: Bool, option: String) throws {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        if manager.fileExists(atPath: path, isDirectory: &isDirectory) {
            switch (kind, isDirectory.boolValue) {
            case (.file, true):
                throw ValidationError("\(option) \(path) is a directory; give a file path")
            case (.directory, false):
                throw ValidationError("\(option) \(path) is a file; give a directory path")
            case (.file, false):
                guard force else { throw ValidationError("\(option) \(path) exists; pass --force to replace it") }
            case (.directory, true):
                let entries = (try? manager.contentsOfDirectory(atPath: path)) ?? []
                guard entries.isEmpty || force else {
                    throw ValidationError("\(option) \(path) is not empty (\(entries.count) entries); pass --force to write into it, replacing the model there")
                }
            }
            return
        }
        let parent = (path as NSString).deletingLastPathComponent
        guard kind == .file, !parent.isEmpty else { return }  // a directory is created with its parents
        guard manager.fileExists(atPath: parent, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("\(option) \(path): the directory \(parent) does not exist")
        }
    }

    /// Writes `text` to `path` atomically (the final name appears only whole), after ``check(_:kind:force:option:)``.
    static func write(_ text: String, to path: String) throws {
        try AtomicPath.write(path) { try Data(text.utf8).write(to: URL(fileURLWithPath: $0)) }
    }
}
