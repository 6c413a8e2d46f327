import Checkpoint
import Foundation
import Gemma

/// A row that cannot be used, named by file and line (1-based).
public struct DataError: Error, CustomStringConvertible {
    public let file: String, line: Int?, message: String
    public init(file: String, line: Int?, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }
    public var description: String { "\(file)\(line.map { ":\($0)" } ?? ""): \(message)" }
}

/// Reads JSON Lines files: one JSON value per line, blank lines skipped, each row decoded to `T` with
/// errors that name the file, the line and the key.
public enum JSONLines {
    /// The non-blank lines of a text file (any line ending, ``TextLine``), not yet decoded.
    /// - Throws: ``DataError`` naming the file when it cannot be read.
    public static func lines(of path: String) throws -> [TextLine] {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw DataError(file: path, line: nil, message: "cannot read: \(FileSystemError.reason(of: error))")
        }
        return TextLine.split([UInt8](data)).filter { !$0.isBlank }
    }

    /// The non-blank lines of a text file as text. A line that is not UTF-8 is an error naming it, or
    /// with `skipBadRows` is skipped and counted.
    public static func texts(of path: String, skipBadRows: Bool) throws -> (rows: [(line: Int, text: String)], skipped: Int) {
        var rows: [(line: Int, text: String)] = [], skipped = 0
        for line in try lines(of: path) {
            do { rows.append((line.number, try line.text(file: path))) } catch is DataError where skipBadRows {
                skipped += 1
            }
        }
        return (rows, skipped)
    }

    /// Decodes every non-blank line of `path` as `T`.
    public static func read<T: Decodable>(_ type: T.Type, from path: String) throws -> [(line: Int, value: T)] {
        try read(type, from: path, skipBadRows: false) { ($0, $1) }.rows
    }

    /// Decodes every non-blank line of `path` as `T`, then applies `transform` (which may throw a
    /// ``DataError`` for a row it cannot use). A bad row is an error, or with `skipBadRows` is skipped and
    /// counted.
    public static func read<T: Decodable, R>(
        _ type: T.Type, from path: String, skipBadRows: Bool, _ transform: (Int, T) throws -> R
    ) throws -> (rows: [R], skipped: Int) {
        let decoder = JSONDecoder()
        var rows: [R] = [], skipped = 0
        for textLine in try lines(of: path) {
            let line = textLine.number
            do {
                let text = try textLine.text(file: path)
                let value: T
                do { value = try decoder.decode(T.self, from: Data(text.utf8)) } catch let error as DecodingError {
                    throw DataError(file: path, line: line, message: error.summary)
                }
                rows.append(try transform(line, value))
            } catch let error as DataError where skipBadRows && error.file == path {
                skipped += 1
            }
        }
        return (rows, skipped)
    }
}
