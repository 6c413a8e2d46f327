/// Lines of UTF-8 text read as bytes, not Swift `Character`s (for which `"\r\n"` is one character).
///
/// A line ends at `"\n"`, `"\r\n"` or a lone `"\r"`; the last line needs no terminator; a UTF-8 byte
/// order mark at the start of the text is skipped. Line numbers are 1-based, each terminator starting
/// the next line, so an editor shows the same numbers.
public enum ByteLines {
    /// Calls `body(lineNumber, bytesOfTheLine)` for every line of `bytes` (terminators excluded), with
    /// numbers starting at `firstLine`. `skipByteOrderMark` drops a leading `EF BB BF` (the start of a file).
    /// Returns the number of lines seen, so that a caller reading a file in pieces can number the next one.
    @discardableResult
    public static func forEach(in bytes: UnsafeRawBufferPointer, firstLine: Int = 1, skipByteOrderMark: Bool,
                               _ body: (Int, UnsafeRawBufferPointer) throws -> Void) rethrows -> Int {
        var start = skipByteOrderMark && hasByteOrderMark(bytes) ? 3 : 0
        var line = firstLine, i = start
        let n = bytes.count
        while i < n {
            let b = bytes[i]
            if b == newline || b == carriageReturn {
                try body(line, UnsafeRawBufferPointer(rebasing: bytes[start..<i]))
                line += 1
                i += (b == carriageReturn && i + 1 < n && bytes[i + 1] == newline) ? 2 : 1
                start = i
            } else {
                i += 1
            }
        }
        if start < n { try body(line, UnsafeRawBufferPointer(rebasing: bytes[start..<n])); line += 1 }
        return line - firstLine
    }

    /// Offsets that cut `bytes` into pieces of about `target` bytes at line ends: `[0, c1, ..., count]`,
    /// each `ci` just after a terminator (never between the `"\r"` and `"\n"` of a CRLF), so every piece
    /// holds whole lines. Depends only on the bytes and `target`.
    public static func cuts(_ bytes: UnsafeRawBufferPointer, target: Int) -> [Int] {
        precondition(target > 0, "ByteLines.cuts: target must be > 0")
        var result = [0]
        var next = target
        while next < bytes.count {
            let i = lineEnd(bytes, from: next)
            guard i < bytes.count else { break }
            result.append(i)
            next = i + target
        }
        result.append(bytes.count)
        return result
    }

    /// The offset just after the first line terminator at or after `from` (a CRLF whole), or
    /// `bytes.count` when there is none. ``cuts(_:target:)`` cuts there; a caller can cut as it goes.
    public static func lineEnd(_ bytes: UnsafeRawBufferPointer, from: Int) -> Int {
        var i = from
        while i < bytes.count && bytes[i] != newline && bytes[i] != carriageReturn { i += 1 }
        if i < bytes.count { i += (bytes[i] == carriageReturn && i + 1 < bytes.count && bytes[i + 1] == newline) ? 2 : 1 }
        return i
    }

    /// Whether the line is blank: only whitespace (Unicode's, as `Character.isWhitespace`), or empty.
    /// ASCII is decided byte by byte; only lines of non-ASCII bytes and ASCII spaces are decoded.
    public static func isBlank(_ line: UnsafeRawBufferPointer) -> Bool {
        var nonASCII = false
        for b in line {
            if b >= 0x80 { nonASCII = true } else if !(b == 0x20 || (0x09...0x0D).contains(b)) { return false }
        }
        return !nonASCII || String(decoding: line, as: UTF8.self).allSatisfy(\.isWhitespace)
    }

    static func hasByteOrderMark(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF
    }

    static let newline = UInt8(ascii: "\n"), carriageReturn = UInt8(ascii: "\r")
}
