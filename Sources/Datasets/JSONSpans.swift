/// A JSON value parsed from the bytes of one line, keeping where each string literal sits in those bytes,
/// so that a string can be replaced in place while every other byte of the line (key order, number
/// spelling, spacing) stays as it was. Strict RFC 8259 syntax; the bytes must be UTF-8.
public indirect enum JSONSpans {
    /// A string: its decoded UTF-8 bytes and the byte range of its literal, quotes included.
    case string([UInt8], Range<Int>)
    case array([JSONSpans])
    /// Members in the order written (a repeated key keeps its first value, as a lookup finds).
    case object([(key: String, value: JSONSpans)])
    /// A number, `true`, `false` or `null` (never looked inside).
    case scalar

    /// The value of `key` in an object (nil for a missing key or a value that is not an object).
    public subscript(key: String) -> JSONSpans? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    /// Why a line is not one JSON value, with the 1-based byte column.
    public struct SyntaxError: Error, CustomStringConvertible {
        public let column: Int, message: String
        public var description: String { "\(message) at column \(column)" }
    }

    /// Parses `bytes` as exactly one JSON value (whitespace around it allowed) of UTF-8 text.
    /// - Throws: ``SyntaxError`` naming the first byte that does not fit.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws -> JSONSpans {
        if bytes.contains(where: { $0 >= 0x80 }) {
            var iterator = bytes.makeIterator(), utf8 = Unicode.UTF8.ForwardParser(), column = 1
            loop: while true {
                switch utf8.parseScalar(from: &iterator) {
                case .valid(let scalar): column += scalar.count
                case .emptyInput: break loop
                case .error:
                    let byte = String(bytes[column - 1], radix: 16, uppercase: true)
                    throw SyntaxError(column: column, message: "not UTF-8 text (byte 0x\(byte))")
                }
            }
        }
        var parser = Parser(bytes: bytes)
        parser.skipSpace()
        let value = try parser.value(depth: 0)
        parser.skipSpace()
        guard parser.i == bytes.count else { throw parser.error("unexpected text after the value") }
        return value
    }

    /// `text` as a JSON string literal: quotes, `\"`, `\\`, control characters escaped (`\n`, `\t`, `\r`,
    /// `\b`, `\f`, else `\u00XX`), every other byte (UTF-8 included) as is.
    public static func literal(_ text: some Collection<UInt8>) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "\"")]
        out.reserveCapacity(text.count + 2)
        let hex = Array("0123456789abcdef".utf8)
        for b in text {
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), b]
            case 0x0A: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x09: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0x0D: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x08: out += [UInt8(ascii: "\\"), UInt8(ascii: "b")]
            case 0x0C: out += [UInt8(ascii: "\\"), UInt8(ascii: "f")]
            case ..<0x20: out += Array("\\u00".utf8) + [hex[Int(b >> 4)], hex[Int(b & 15)]]
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
        return out
    }

    /// Deep enough for any data row; deeper nesting is an error rather than a stack overflow.
    static let maximumDepth = 512

    private struct Parser {
        let bytes: UnsafeRawBufferPointer
        var i = 0

        func error(_ message: String) -> SyntaxError { SyntaxError(column: i + 1, message: "not valid JSON: " + message) }

        mutating func skipSpace() {
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
        }

        mutating func value(depth: Int) throws -> JSONSpans {
            guard depth < JSONSpans.maximumDepth else { throw error("nested deeper than \(JSONSpans.maximumDepth) levels") }
            guard i < bytes.count else { throw error("unexpected end of line") }
            switch bytes[i] {
            case UInt8(ascii: "{"):
                i += 1
                var members: [(key: String, value: JSONSpans)] = []
                skipSpace()
                if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
                while true {
                    skipSpace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw error("expected a string key") }
                    let (key, _) = try string()
                    skipSpace()
                    try expect(":")
                    skipSpace()
                    members.append((String(decoding: key, as: UTF8.self), try value(depth: depth + 1)))
                    skipSpace()
                    if try endOfList("}") { return .object(members) }
                }
            case UInt8(ascii: "["):
                i += 1
                var elements: [JSONSpans] = []
                skipSpace()
                if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(elements) }
                while true {
                    skipSpace()
                    elements.append(try value(depth: depth + 1))
                    skipSpace()
                    if try endOfList("]") { return .array(elements) }
                }
            case UInt8(ascii: "\""):
                let (text, range) = try string()
                return .string(text, range)
            case UInt8(ascii: "t"): try word("true"); return .scalar
            case UInt8(ascii: "f"): try word("false"); return .scalar
            case UInt8(ascii: "n"): try word("null"); return .scalar
            default: try number(); return .scalar
            }
        }

        /// After a member or element: `,` (more follow) or `close` (returns true).
        mutating func endOfList(_ close: Unicode.Scalar) throws -> Bool {
            guard i < bytes.count else { throw error("unexpected end of line") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; return false }
            if bytes[i] == UInt8(ascii: close) { i += 1; return true }
            throw error("expected ',' or '\(close)'")
        }

        mutating func expect(_ c: Unicode.Scalar) throws {
            guard i < bytes.count, bytes[i] == UInt8(ascii: c) else { throw error("expected '\(c)'") }
            i += 1
        }

        mutating func word(_ w: String) throws {
            for c in w.utf8 {
                guard i < bytes.count, bytes[i] == c else { throw error("unexpected character") }
                i += 1
            }
        }

        mutating func number() throws {
            let start = i
            func digits() -> Int {
                let s = i
                while i < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) { i += 1 }
                return i - s
            }
            if i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
            let lead = i
            guard digits() > 0 else { i = start; throw error("unexpected character") }
            if bytes[lead] == UInt8(ascii: "0"), i - lead > 1 { i = lead; throw error("a number with a leading zero") }
            if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
                i += 1
                guard digits() > 0 else { throw error("expected a digit") }
            }
            if i < bytes.count, bytes[i] | 0x20 == UInt8(ascii: "e") {
                i += 1
                if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
                guard digits() > 0 else { throw error("expected a digit") }
            }
        }

        /// A string literal starting at `i` (a quote): its decoded bytes and its range.
        mutating func string() throws -> ([UInt8], Range<Int>) {
            let start = i
            i += 1
            var out: [UInt8] = []
            var runStart = i
            while true {
                guard i < bytes.count else { throw error("unterminated string") }
                let b = bytes[i]
                if b == UInt8(ascii: "\"") {
                    out += UnsafeRawBufferPointer(rebasing: bytes[runStart..<i])
                    i += 1
                    return (out, start..<i)
                }
                if b < 0x20 { throw error("a control character in a string") }
                if b != UInt8(ascii: "\\") { i += 1; continue }
                out += UnsafeRawBufferPointer(rebasing: bytes[runStart..<i])
                i += 1
                guard i < bytes.count else { throw error("unterminated string") }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar), i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"),
                       bytes[i + 1] == UInt8(ascii: "u") {
                        let back = i
                        i += 2
                        let low = try hex4()
                        if (0xDC00..<0xE000).contains(low) {
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            i = back
                        }
                    }
                    // A lone surrogate becomes U+FFFD, as Foundation's decoder does.
                    out += Array(String(Unicode.Scalar(scalar) ?? "\u{FFFD}").utf8)
                default:
                    i -= 1
                    throw error("an invalid escape")
                }
                runStart = i
            }
        }

        mutating func hex4() throws -> UInt32 {
            var v: UInt32 = 0
            for _ in 0..<4 {
                guard i < bytes.count, let d = hexDigit(bytes[i]) else { throw error("expected 4 hex digits after \\u") }
                v = v << 4 | UInt32(d)
                i += 1
            }
            return v
        }

        func hexDigit(_ b: UInt8) -> UInt8? {
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return b - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
    }
}
