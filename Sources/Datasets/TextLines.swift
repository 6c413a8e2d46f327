/// A line of a text file, split by bytes (``ByteLines``: `"\n"`, `"\r\n"` and a lone `"\r"` each end a
/// line, a last line without a newline counts, a UTF-8 byte-order mark at the start is dropped). Each line
/// is decoded on its own, so a byte that is not UTF-8 is an error naming its line, which `skip_bad_rows`
/// can skip.
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

    /// Whether the line is blank (``ByteLines/isBlank(_:)``: only whitespace, or empty).
    public var isBlank: Bool { bytes.withUnsafeBytes { ByteLines.isBlank($0) } }

    /// The lines of `bytes` (a whole file), split as ``ByteLines`` splits them.
    public static func split(_ bytes: [UInt8]) -> [TextLine] {
        bytes.withUnsafeBytes { raw in
            var lines: [TextLine] = []
            ByteLines.forEach(in: raw, skipByteOrderMark: true) { number, line in
                let start = raw.baseAddress.map { line.baseAddress! - $0 } ?? 0
                lines.append(TextLine(number: number, bytes: bytes[start..<(start + line.count)]))
            }
            return lines
        }
    }
}
