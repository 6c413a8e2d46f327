/// The lines of a text file, split by bytes (not by Swift `Character`s, where `"\r\n"` is one
/// character): `"\n"`, `"\r\n"` and a lone `"\r"` each end a line, a last line without a newline counts,
/// and a UTF-8 byte-order mark at the start of the file is dropped. Each line is decoded on its own, so a
/// byte that is not UTF-8 is an error naming its line, which `skip_bad_rows` can skip.
public struct TextLine: Sendable {
    /// 1-based, counting every line ending.
    public let number: Int
    /// The line's bytes, without its ending.
    public let bytes: ArraySlice<UInt8>

    /// The line as text.
    /// - Throws: ``DataError`` naming `file`, the line and the byte column of the first invalid byte.
    public func text(file: String) throws -> String {
        var iterator = bytes.makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        var column = 1
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar): column += scalar.count
            case .emptyInput: return String(decoding: bytes, as: UTF8.self)
            case .error:
                let byte = bytes[bytes.startIndex + column - 1]
                throw DataError(file: file, line: number, message: "not UTF-8 text (byte 0x\(String(byte, radix: 16, uppercase: true)) at column \(column))")
            }
        }
    }

    /// Whether the line holds only spaces, tabs, vertical tabs and form feeds (or nothing).
    public var isBlank: Bool {
        bytes.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0B || $0 == 0x0C }
    }

    /// The lines of `bytes` (a whole file).
    public static func split(_ bytes: [UInt8]) -> [TextLine] {
        var lines: [TextLine] = []
        var start = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        var i = start
        while i < bytes.count {
            let b = bytes[i]
            guard b == 0x0A || b == 0x0D else { i += 1; continue }
            lines.append(TextLine(number: lines.count + 1, bytes: bytes[start..<i]))
            i += (b == 0x0D && i + 1 < bytes.count && bytes[i + 1] == 0x0A) ? 2 : 1
            start = i
        }
        if start < bytes.count { lines.append(TextLine(number: lines.count + 1, bytes: bytes[start...])) }
        return lines
    }
}
