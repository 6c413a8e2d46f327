import XCTest
@testable import Datasets

/// `TextLine.split` (lines by bytes: `\n`, `\r\n` and a lone `\r` end a line, a last line without a newline
/// counts, a leading UTF-8 BOM is dropped, lines numbered from 1 counting every ending) and
/// `TextLine.text(file:)` (an invalid byte is an error naming the line and its 1-based byte column).
final class TextLinesTests: XCTestCase {
    /// `(number, text)` of each line of `bytes`.
    func lines(_ bytes: [UInt8]) -> [[String]] {
        TextLine.split(bytes).map { ["\($0.number)", String(decoding: $0.bytes, as: UTF8.self)] }
    }

    func lines(_ text: String) -> [[String]] { lines(Array(text.utf8)) }

    static let bom: [UInt8] = [0xEF, 0xBB, 0xBF]

    func testLineEndings() {
        XCTAssertEqual(lines("a\nb\r\nc\rd"), [["1", "a"], ["2", "b"], ["3", "c"], ["4", "d"]])
        XCTAssertEqual(lines("a\n"), [["1", "a"]])
        XCTAssertEqual(lines("a\r\n"), [["1", "a"]])
        XCTAssertEqual(lines("a\r"), [["1", "a"]])
        // A lone CR followed by CRLF is two endings; LF CR is two endings too.
        XCTAssertEqual(lines("a\r\r\nb"), [["1", "a"], ["2", ""], ["3", "b"]])
        XCTAssertEqual(lines("a\n\rb"), [["1", "a"], ["2", ""], ["3", "b"]])
        // Empty lines are lines (numbers count every ending); no final empty line after the last ending.
        XCTAssertEqual(lines("\n\nx\n\n"), [["1", ""], ["2", ""], ["3", "x"], ["4", ""]])
        XCTAssertEqual(lines("\r\n\r\n"), [["1", ""], ["2", ""]])
        XCTAssertEqual(lines(""), [])
        // "\r\n" is one Character in Swift but two bytes here; a tab and other bytes stay in the line.
        XCTAssertEqual(lines("é\tü\r\nß"), [["1", "é\tü"], ["2", "ß"]])
    }

    func testByteOrderMark() {
        XCTAssertEqual(lines(Self.bom + Array("x\r\ny".utf8)), [["1", "x"], ["2", "y"]])
        XCTAssertEqual(lines(Self.bom), [])
        XCTAssertEqual(lines(Self.bom + [0x0A]), [["1", ""]])
        // Only at the very start: a second BOM, or one on a later line, is kept.
        XCTAssertEqual(TextLine.split(Self.bom + Self.bom).map { Array($0.bytes) }, [Self.bom])
        XCTAssertEqual(TextLine.split(Array("a\n".utf8) + Self.bom).map { Array($0.bytes) }, [[0x61], Self.bom])
    }

    func testBytesAreSlicesOfTheFile() {
        let split = TextLine.split(Array("ab\r\ncd".utf8))
        XCTAssertEqual(split.map(\.bytes.startIndex), [0, 4])
        XCTAssertEqual(split.map { Array($0.bytes) }, [[0x61, 0x62], [0x63, 0x64]])
    }

    func testText() throws {
        let split = TextLine.split(Array("héllo\nwörld".utf8))
        XCTAssertEqual(try split.map { try $0.text(file: "f.txt") }, ["héllo", "wörld"])
    }

    func testInvalidUtf8NamesLineAndByteColumn() {
        func error(_ bytes: [UInt8], line: Int = 2) -> String {
            let all = Array("first line\r\n".utf8) + bytes + Array("\nnext".utf8)
            let split = TextLine.split(all)
            XCTAssertEqual(split.count, 3)
            do {
                _ = try split[line - 1].text(file: "data.txt")
                return "no error"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertEqual(error([0xFF]), "data.txt:2: not UTF-8 text (byte 0xFF at column 1)")
        XCTAssertEqual(error(Array("ab".utf8) + [0xFF, 0x61]), "data.txt:2: not UTF-8 text (byte 0xFF at column 3)")
        // Columns count bytes: "é" is two, "€" three.
        XCTAssertEqual(error(Array("é€".utf8) + [0x80]), "data.txt:2: not UTF-8 text (byte 0x80 at column 6)")
        // A lead byte without its continuation, mid-line and at the end of the line.
        XCTAssertEqual(error([0x61, 0xC3, 0x28]), "data.txt:2: not UTF-8 text (byte 0xC3 at column 2)")
        XCTAssertEqual(error([0x61, 0x62, 0xE2, 0x82]), "data.txt:2: not UTF-8 text (byte 0xE2 at column 3)")
        // An overlong encoding of "/" is not UTF-8 either.
        XCTAssertEqual(error([0xC0, 0xAF]), "data.txt:2: not UTF-8 text (byte 0xC0 at column 1)")
        XCTAssertEqual(error([0xFF], line: 3), "no error")
    }

    func testIsBlank() {
        XCTAssertEqual(TextLine.split(Array("\n \t\na\n  b \n\u{0B}\u{0C}".utf8)).map(\.isBlank), [true, true, false, false, true])
    }
}
