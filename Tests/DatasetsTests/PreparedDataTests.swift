import Foundation
import Gemma
import XCTest
@testable import Datasets

/// `data prepare`'s shard format and the rows cut from it: byte-level lines, the same rows as the raw
/// file, output independent of the thread count, and refusals (non-empty output, other tokenizer,
/// unfinished directory, bad line).
final class PreparedDataTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../GemmaTests/Fixtures/tokenizer").standardized
    let tokenizer = try! SentencePieceTokenizer(contentsOf: fixtures.appendingPathComponent("demo.model"))
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("prepared-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func file(_ name: String, _ text: String) throws -> String {
        let url = dir.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    /// Lines of `text` as (number, string) through ``ByteLines/forEach(in:firstLine:skipByteOrderMark:_:)``.
    func lines(_ text: [UInt8], firstLine: Int = 1, bom: Bool = true) -> (lines: [(Int, String)], count: Int) {
        var result: [(Int, String)] = []
        let count = text.withUnsafeBytes { bytes in
            ByteLines.forEach(in: bytes, firstLine: firstLine, skipByteOrderMark: bom) { result.append(($0, String(decoding: $1, as: UTF8.self))) }
        }
        return (result, count)
    }

    func testByteLinesEndAtLFCRLFAndCRAfterAByteOrderMark() {
        let (found, count) = lines(Array("\u{FEFF}a\r\nb\rc\n\nd é".utf8))
        XCTAssertEqual(found.map(\.0), [1, 2, 3, 4, 5])
        XCTAssertEqual(found.map(\.1), ["a", "b", "c", "", "d é"])
        XCTAssertEqual(count, 5)
        XCTAssertEqual(lines(Array("x\n".utf8)).count, 1, "a final newline starts no line")
        XCTAssertEqual(lines(Array("\u{FEFF}x".utf8), bom: false).lines[0].1, "\u{FEFF}x", "a BOM inside the file is text")
    }

    func testCutsKeepWholeLinesAndTheSameNumbering() {
        let text = Array("one\r\ntwo\rthree\n\nfour five\r\n\r\nsix".utf8)
        let whole = lines(text).lines
        for target in 1...text.count {
            let cuts = text.withUnsafeBytes { ByteLines.cuts($0, target: target) }
            XCTAssertEqual(cuts.first, 0)
            XCTAssertEqual(cuts.last, text.count)
            var pieces: [(Int, String)] = [], next = 1
            for (a, b) in zip(cuts, cuts.dropFirst()) {
                XCTAssertFalse(a > 0 && text[a - 1] == UInt8(ascii: "\r") && text[a] == UInt8(ascii: "\n"), "cut inside CRLF at \(a)")
                let piece = lines(Array(text[a..<b]), firstLine: next, bom: a == 0)
                pieces += piece.lines
                next += piece.count
            }
            XCTAssertEqual(pieces.map(\.0), whole.map(\.0), "target \(target)")
            XCTAssertEqual(pieces.map(\.1), whole.map(\.1), "target \(target)")
        }
    }

    func testBlankMatchesCharacterWhitespace() {
        for text in ["", " ", "\t \u{0B}\u{0C}", "\u{00A0}", "\u{3000} \u{2029}", "a", " é ", "\u{FEFF}", "\u{85}x"] {
            let blank = Array(text.utf8).withUnsafeBytes { ByteLines.isBlank($0) }
            XCTAssertEqual(blank, text.allSatisfy(\.isWhitespace), text.debugDescription)
        }
    }

    /// Documents of every length class: shorter than a row, spanning rows, longer than several rows; with
    /// blank lines between.
    func corpus(json: Bool) -> String {
        let words = ["the", "cat", "sat", "on", "a", "mat", "and", "then", "ran", "far", "away", "quickly"]
        var lines: [String] = []
        for d in 0..<60 {
            let text = (0..<(1 + (d * 7) % 45)).map { words[($0 * 5 + d) % words.count] }.joined(separator: " ")
            lines.append(json ? #"{"text": "\#(text)"}"# : text)
            if d % 9 == 0 { lines.append(d % 2 == 0 ? "" : "  \t") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func prepare(_ input: String, _ name: String, threads: Int = 2, chunkBytes: Int = 300, shardBytes: Int = 900,
                 tokenizer: SentencePieceTokenizer? = nil) throws -> PreparedIndex {
        var p = DataPreparation(input: input, output: dir.appendingPathComponent(name).path, tokenizer: tokenizer ?? self.tokenizer,
                                threads: threads)
        p.chunkBytes = chunkBytes
        p.shardBytes = shardBytes
        return try p.run()
    }

    func testPreparedRowsAreTheRawFilesRows() throws {
        for json in [true, false] {
            let input = try file(json ? "corpus.jsonl" : "corpus.txt", corpus(json: json))
            let index = try prepare(input, json ? "json" : "txt")
            XCTAssertGreaterThan(index.shards.count, 2, "several shards, so rows cross shard boundaries")
            XCTAssertEqual(index.dtype, .uint16)
            let tokens = try PreparedTokens(directory: dir.appendingPathComponent(json ? "json" : "txt").path, tokenizer: tokenizer)
            let cases = [7, 16, 64].flatMap { seqLen in
                [true, false].flatMap { packing in [Packer.Overlong.truncate, .drop].map { (seqLen, packing, $0) } }
            }
            for (seqLen, packing, overlong) in cases {
                let raw = try TrainingData.text(input, tokenizer: tokenizer, seqLen: seqLen, packing: packing, overlong: overlong,
                                                skipBadRows: false)
                let prepared = PreparedRows(tokens: tokens, seqLen: seqLen, padId: tokenizer.padId ?? 0, packing: packing,
                                            overlong: overlong)
                let label = "json \(json) seq_len \(seqLen) packing \(packing) \(overlong)"
                XCTAssertEqual(prepared.count, raw.rows.count, label)
                for i in 0..<min(prepared.count, raw.rows.count) {
                    XCTAssertEqual(prepared.row(at: i), raw.rows[i], "\(label) row \(i)")
                }
                let (a, b) = (prepared.report, raw.report)
                XCTAssertEqual([a.examples, a.rows, a.tokens, a.truncated, a.dropped],
                               [b.examples, b.rows, b.tokens, b.truncated, b.dropped], label)
            }
        }
    }

    func testUInt32ShardsGiveTheSameRows() throws {
        let input = try file("corpus.jsonl", corpus(json: true))
        var p = DataPreparation(input: input, output: dir.appendingPathComponent("wide").path, tokenizer: tokenizer)
        p.tokenType = .uint32
        p.chunkBytes = 500
        p.shardBytes = 1000
        let index = try p.run()
        XCTAssertEqual(index.dtype, .uint32)
        let shard = try Data(contentsOf: dir.appendingPathComponent("wide/\(index.shards[0].tokensFile)"))
        XCTAssertEqual(shard.count, index.shards[0].tokens * 4)
        XCTAssertEqual(Array(shard.prefix(4)), [UInt8(tokenizer.bosId!), 0, 0, 0], "little-endian <bos> first")
        let rows = PreparedRows(tokens: try PreparedTokens(directory: p.output, tokenizer: tokenizer), seqLen: 16,
                                padId: tokenizer.padId ?? 0, packing: true, overlong: .truncate)
        let raw = try TrainingData.text(input, tokenizer: tokenizer, seqLen: 16, packing: true, overlong: .truncate, skipBadRows: false)
        XCTAssertEqual((0..<rows.count).map(rows.row(at:)), raw.rows)
    }

    func testOutputDoesNotDependOnTheThreadCount() throws {
        let input = try file("corpus.jsonl", corpus(json: true))
        let one = try prepare(input, "one", threads: 1), three = try prepare(input, "three", threads: 3)
        XCTAssertEqual(one, three)
        for name in try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("one").path) {
            let a = try Data(contentsOf: dir.appendingPathComponent("one/\(name)"))
            XCTAssertEqual(a, try Data(contentsOf: dir.appendingPathComponent("three/\(name)")), name)
        }
    }

    func testRefusesANonEmptyOutputUnlessForced() throws {
        let input = try file("corpus.txt", corpus(json: false))
        _ = try prepare(input, "out")
        XCTAssertThrowsError(try prepare(input, "out")) { error in
            XCTAssertTrue("\(error)".contains("out: is not empty") && "\(error)".contains("--force"), "\(error)")
        }
        var p = DataPreparation(input: input, output: dir.appendingPathComponent("out").path, tokenizer: tokenizer)
        p.force = true
        p.shardBytes = 1 << 20  // one shard now: the old second and third must go
        XCTAssertEqual(try p.run().shards.count, 1)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: p.output).sorted(),
                       ["index.json", "shard-00000.offsets", "shard-00000.tokens"])
    }

    func testRefusesAnotherTokenizerAndAnUnfinishedDirectory() throws {
        let variant = try SentencePieceTokenizer(contentsOf: Self.fixtures.appendingPathComponent("variant.model"))
        let input = try file("corpus.txt", corpus(json: false))
        _ = try prepare(input, "variant", tokenizer: variant)
        let path = dir.appendingPathComponent("variant").path
        XCTAssertThrowsError(try PreparedTokens(directory: path, tokenizer: tokenizer)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix(path + ": prepared with tokenizer"), message)
            XCTAssertTrue(message.contains("variant.model") && message.contains("demo.model"), message)
        }
        try FileManager.default.removeItem(atPath: path + "/index.json")
        XCTAssertThrowsError(try PreparedTokens(directory: path, tokenizer: variant)) { error in
            XCTAssertTrue("\(error)".contains("no index.json"), "\(error)")
        }
    }

    func testABadLineIsNamedByFileAndLineWhateverPieceItIsIn() throws {
        var text = corpus(json: true)
        text += "{\"text\": 5}\n"
        let input = try file("bad.jsonl", text)
        let line = text.split(separator: "\n", omittingEmptySubsequences: false).count - 1
        XCTAssertThrowsError(try prepare(input, "bad")) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(input):\(line): "), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("bad/index.json").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("bad").path),
                       "a failed preparation removes its shards and the directory it created")
        var skipping = DataPreparation(input: input, output: dir.appendingPathComponent("skip").path, tokenizer: tokenizer)
        skipping.skipBadRows = true
        XCTAssertEqual(try skipping.run().skippedBadRows, 1)
    }
}
