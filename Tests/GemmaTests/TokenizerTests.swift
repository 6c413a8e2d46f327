import Foundation
import XCTest

@testable import Gemma

/// The SentencePiece tokenizer against the Python `sentencepiece` package: ids and decodes recorded by
/// Fixtures/tokenizer/make_tokenizer.py for a trained Gemma-like model (demo.model) and an edited one that turns on
/// the non-Gemma branches (variant.model: dummy prefix, whitespace removal, no byte fallback, UNUSED pieces).
final class TokenizerTests: XCTestCase {
    struct Expected: Decodable {
        struct Line: Decodable {
            var text: String
            var ids: [Int32]
            var decoded: String
        }
        struct DecodeCase: Decodable {
            var model: String
            var ids: [Int32]
            var text: String
        }
        struct Vocab: Decodable {
            var size: Int
            var bos: Int32
            var eos: Int32
            var pad: Int32
            var unk: Int32
            var pieces: [String: Int32]
            var user_defined: [String]
        }
        var demo: [Line]
        var variant: [Line]
        var decode: [DecodeCase]
        var vocab: Vocab
    }

    static func fixtureURL(_ name: String) throws -> URL {
        let parts = name.split(separator: ".", maxSplits: 1).map(String.init)
        return try XCTUnwrap(
            Bundle.module.url(forResource: parts[0], withExtension: parts[1], subdirectory: "Fixtures/tokenizer"),
            "missing fixture \(name)")
    }

    static func tokenizer(_ name: String = "demo.model") throws -> SentencePieceTokenizer {
        try SentencePieceTokenizer(contentsOf: fixtureURL(name))
    }

    static func expected() throws -> Expected {
        try JSONDecoder().decode(Expected.self, from: Data(contentsOf: fixtureURL("expected_ids.json")))
    }

    // MARK: Loading

    func testVocabularyMatchesSentencePiece() throws {
        let tok = try Self.tokenizer()
        let vocab = try Self.expected().vocab
        XCTAssertEqual(tok.vocabularySize, vocab.size)
        XCTAssertEqual(tok.bosId, vocab.bos)
        XCTAssertEqual(tok.eosId, vocab.eos)
        XCTAssertEqual(tok.padId, vocab.pad)
        XCTAssertEqual(tok.unkId, vocab.unk)
        XCTAssertEqual([tok.padId, tok.eosId, tok.bosId, tok.unkId], [0, 1, 2, 3])  // GEMMA.md's control ids
        for (piece, id) in vocab.pieces {
            XCTAssertEqual(tok.id(of: piece), id, piece)
            XCTAssertEqual(tok.piece(of: id), piece)
        }
        for piece in vocab.user_defined {
            XCTAssertEqual(tok.id(of: piece).flatMap(tok.pieceType(of:)), .userDefined, piece)
        }
        XCTAssertEqual(tok.pieceType(of: 0), .control)
        XCTAssertEqual(tok.pieceType(of: 3), .unknown)
        XCTAssertEqual(tok.id(of: "<0x41>").flatMap(tok.pieceType(of:)), .byte)
        XCTAssertNil(tok.id(of: "no such piece"))
        XCTAssertNil(tok.piece(of: -1))
        XCTAssertNil(tok.piece(of: Int32(vocab.size)))
        for id in Int32(0)..<Int32(vocab.size) { XCTAssertEqual(tok.id(of: tok.piece(of: id)!), id) }
        XCTAssertEqual(tok.modelData, try Data(contentsOf: Self.fixtureURL("demo.model")))
    }

    func testLoadFromDataEqualsLoadFromFile() throws {
        let data = try Data(contentsOf: Self.fixtureURL("demo.model"))
        let a = try SentencePieceTokenizer(data: data, source: "ckpt.h5:/tokenizer/model")
        let b = try Self.tokenizer()
        XCTAssertEqual(a.source, "ckpt.h5:/tokenizer/model")
        let text = "Hello <start_of_turn>world 😀 机器学习"
        XCTAssertEqual(a.encode(text), b.encode(text))
    }

    // MARK: Encoding and decoding against sentencepiece

    func testEncodeMatchesSentencePieceOnTheWholeCorpus() throws {
        let tok = try Self.tokenizer()
        let lines = try Self.expected().demo
        XCTAssertGreaterThan(lines.count, 300)
        var mismatches = 0
        for line in lines {
            let ids = tok.encode(line.text)
            if ids != line.ids {
                mismatches += 1
                XCTFail("encode(\(line.text.debugDescription)) = \(ids), sentencepiece: \(line.ids)")
            }
            XCTAssertEqual(tok.decode(line.ids), line.decoded, line.text.debugDescription)
        }
        XCTAssertEqual(mismatches, 0)
    }

    func testVariantModelMatchesSentencePiece() throws {
        let tok = try Self.tokenizer("variant.model")
        XCTAssertTrue(tok.addDummyPrefix)
        XCTAssertTrue(tok.removeExtraWhitespaces)
        XCTAssertFalse(tok.byteFallback)
        XCTAssertTrue(tok.hasUnusedPieces)
        for line in try Self.expected().variant {
            XCTAssertEqual(tok.encode(line.text), line.ids, line.text.debugDescription)
            XCTAssertEqual(tok.decode(line.ids), line.decoded, line.text.debugDescription)
        }
    }

    func testDecodeMatchesSentencePiece() throws {
        let models = ["demo": try Self.tokenizer(), "variant": try Self.tokenizer("variant.model")]
        let cases = try Self.expected().decode
        XCTAssertGreaterThan(cases.count, 15)
        for c in cases {
            XCTAssertEqual(models[c.model]!.decode(c.ids), c.text, "\(c.model) \(c.ids)")
        }
    }

    func testRoundTripAndBasics() throws {
        let tok = try Self.tokenizer()
        XCTAssertEqual(tok.encode(""), [])
        XCTAssertEqual(tok.decode([]), "")
        let texts = ["Hello world", "  two  spaces\tand tab\n", "机器学习 😀 café e\u{301}", "<start_of_turn>user\nhi"]
        for text in texts {
            XCTAssertEqual(tok.decode(tok.encode(text)), text)
        }
        // Turn tokens are user-defined pieces: matched first, one id each; <bos> is not (it is a control piece).
        let sot = try XCTUnwrap(tok.id(of: "<start_of_turn>"))
        let eot = try XCTUnwrap(tok.id(of: "<end_of_turn>"))
        XCTAssertEqual(tok.encode("<start_of_turn><end_of_turn>"), [sot, eot])
        XCTAssertFalse(tok.encode("<bos>").contains(2))
        // Longest user-defined match: <unused10> is one piece, <unused1> another.
        XCTAssertEqual(tok.encode("<unused10>"), [tok.id(of: "<unused10>")!])
        XCTAssertEqual(tok.encode("<unused1>"), [tok.id(of: "<unused1>")!])
        // Byte fallback: a character outside the vocabulary becomes its UTF-8 bytes.
        XCTAssertEqual(tok.encode("\u{10FFFD}").map { tok.piece(of: $0)! }, ["<0xF4>", "<0x8F>", "<0xBF>", "<0xBD>"])
        // Control pieces decode to nothing.
        XCTAssertEqual(tok.decode([2] + tok.encode("x") + [1, 0]), "x")
    }

    func testOffsetsCoverTheText() throws {
        let tok = try Self.tokenizer()
        let text = "Hi \u{10FFFD} there<start_of_turn>model\n- item  x"
        let (ids, ranges) = tok.encodeWithOffsets(text)
        XCTAssertEqual(ids, tok.encode(text))
        XCTAssertEqual(ids.count, ranges.count)
        let bytes = Array(text.utf8)
        var covered = 0
        for (id, range) in zip(ids, ranges) {
            if tok.pieceType(of: id) == .byte {
                XCTAssertEqual(range.count, 4)  // each byte piece covers the whole character
            } else {
                XCTAssertEqual(range.lowerBound, covered)
                let piece = String(decoding: bytes[range], as: UTF8.self)
                XCTAssertEqual(tok.decode([id]), piece)
            }
            covered = range.upperBound
        }
        XCTAssertEqual(covered, bytes.count)
    }

    // MARK: BPE rules on hand-made models

    func testMergeOrderHighestScoreThenLeftmost() throws {
        let base: [(String, Float, Int)] = [
            ("a", 0, 1), ("b", 0, 1), ("c", 0, 1), ("aa", 1, 1), ("ab", 2, 1), ("bc", 3, 1),
        ]
        let tok = try SentencePieceTokenizer(data: ModelBytes.bpe(pieces: base))
        func pieces(_ s: String) -> [String] { tok.encode(s).map { tok.piece(of: $0)! } }
        XCTAssertEqual(pieces("aaa"), ["aa", "a"])  // "aa" at 0 and at 1 tie: the leftmost merges
        XCTAssertEqual(pieces("aaaaa"), ["aa", "aa", "a"])
        XCTAssertEqual(pieces("abc"), ["a", "bc"])  // bc (score 3) before ab (2)
        XCTAssertEqual(pieces("cab"), ["c", "ab"])
        // A merged symbol merges again when the concatenation is a piece (no merge list, only scores).
        let tok2 = try SentencePieceTokenizer(data: ModelBytes.bpe(pieces: base + [("abc", 0.5, 1)]))
        XCTAssertEqual(tok2.encode("abc").map { tok2.piece(of: $0)! }, ["abc"])
    }

    func testUnusedPiecesAreResegmented() throws {
        // "ab" is UNUSED (type 5): BPE may merge through it, then it is split back into what it was merged from.
        let tok = try SentencePieceTokenizer(
            data: ModelBytes.bpe(pieces: [("a", 0, 1), ("b", 0, 1), ("c", 0, 1), ("ab", 5, 5), ("abc", 1, 1)]))
        func pieces(_ s: String) -> [String] { tok.encode(s).map { tok.piece(of: $0)! } }
        XCTAssertEqual(pieces("ab"), ["a", "b"])
        XCTAssertEqual(pieces("abc"), ["abc"])
    }

    func testUnknownRunsCollapseWithoutByteFallback() throws {
        let tok = try SentencePieceTokenizer(data: ModelBytes.bpe(pieces: [("a", 0, 1), ("b", 0, 1)]))
        XCTAssertEqual(tok.encode("axyzb"), [3, 0, 4])  // <unk> is 0 here; x, y, z -> one <unk>
        XCTAssertEqual(tok.decode(tok.encode("axyzb")), "a \u{2047} b")
    }

    // MARK: Rejected models

    func testRejectsModelsItCannotEncode() throws {
        let demo = try Data(contentsOf: Self.fixtureURL("demo.model"))
        func error(_ data: Data) -> TokenizerError? {
            do {
                _ = try SentencePieceTokenizer(data: data, source: "bad.model")
                return nil
            } catch {
                return error as? TokenizerError
            }
        }
        // Later occurrences of a sub-message merge into the first (protobuf), so appending edits the model.
        let charsmap = error(demo + [0x1A, 0x05, 0x12, 0x03, 0x61, 0x62, 0x63])  // normalizer_spec.precompiled_charsmap
        guard case .unsupported(let source, let feature)? = charsmap else {
            return XCTFail("\(String(describing: charsmap))")
        }
        XCTAssertEqual(source, "bad.model")
        XCTAssertTrue(feature.contains("precompiled character map"), feature)
        XCTAssertTrue(charsmap!.description.contains("bad.model"))

        let unigram = error(demo + [0x12, 0x02, 0x18, 0x01])  // trainer_spec.model_type = UNIGRAM
        XCTAssertTrue(unigram?.description.contains("model_type UNIGRAM") ?? false, "\(String(describing: unigram))")
        let suffix = error(demo + [0x12, 0x03, 0xC0, 0x01, 0x01])  // trainer_spec.treat_whitespace_as_suffix
        XCTAssertTrue(suffix?.description.contains("treat_whitespace_as_suffix") ?? false)

        for broken in [demo.prefix(1000), Data([0xFF, 0xFF]), Data("not a model".utf8), Data([0x0A, 0x7F, 0x01])] {
            guard case .malformed(let source, _)? = error(Data(broken)) else {
                return XCTFail("accepted \(broken.count) bytes of garbage")
            }
            XCTAssertEqual(source, "bad.model")
        }
        XCTAssertNotNil(error(Data()))  // no pieces

        let missing = URL(fileURLWithPath: "/nonexistent/tokenizer.model")
        XCTAssertThrowsError(try SentencePieceTokenizer(contentsOf: missing)) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/tokenizer.model"), "\(error)")
        }
    }

    func testChunkedMergingEqualsWholeTextMerging() throws {
        // Long texts are merged in chunks starting at "▁" after a word, valid when no piece has "▁" after another
        // character. Appending the piece "\u{E000}▁\u{E001}" (never in the text) turns chunking off.
        let demoData = try Data(contentsOf: Self.fixtureURL("demo.model"))
        let chunked = try SentencePieceTokenizer(data: demoData)
        let piece = ModelBytes.field(1, Array("\u{E000}▁\u{E001}".utf8)) + [0x15, 0, 0, 0, 0]
            + ModelBytes.field(3, varint: 1)
        let whole = try SentencePieceTokenizer(data: demoData + ModelBytes.field(1, piece))
        XCTAssertTrue(chunked.mergesStopAtSpaces)
        XCTAssertFalse(whole.mergesStopAtSpaces)
        XCTAssertEqual(whole.vocabularySize, chunked.vocabularySize + 1)
        let lines = try Self.expected().demo.map(\.text)
        for separator in [" ", "  ", "", "\n", " \t "] {
            let text = lines.joined(separator: separator)
            XCTAssertGreaterThan(text.utf8.count, 50_000)
            XCTAssertEqual(chunked.encode(text), whole.encode(text), "joined by \(separator.debugDescription)")
            XCTAssertEqual(chunked.encodeWithOffsets(text).ranges, whole.encodeWithOffsets(text).ranges)
        }
    }

    func testEncodingIsNotQuadratic() throws {
        // 256 KB without a space: one BPE problem. O(n^2) merging would take minutes.
        let tok = try Self.tokenizer()
        let text = String(repeating: "a", count: 128 * 1024) + String(repeating: "ab", count: 64 * 1024)
        let start = Date()
        let ids = tok.encode(text)
        XCTAssertEqual(tok.decode(ids), text)
        XCTAssertLessThan(Date().timeIntervalSince(start), 30)
    }

    /// Encode throughput on a file of lines: `GEMMA_TOKENIZER_BENCH=/path/to/text swift test -c release
    /// -Xswiftc -enable-testing --filter testEncodeThroughput`. Skipped without the variable.
    func testEncodeThroughput() throws {
        guard let path = ProcessInfo.processInfo.environment["GEMMA_TOKENIZER_BENCH"] else {
            throw XCTSkip("set GEMMA_TOKENIZER_BENCH to a text file to measure encode throughput")
        }
        let tok = try Self.tokenizer(ProcessInfo.processInfo.environment["GEMMA_TOKENIZER_BENCH_MODEL"] ?? "demo.model")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let bytes = lines.reduce(0) { $0 + $1.utf8.count }
        var best = Double.infinity
        var tokens = 0
        for _ in 0..<3 {
            let start = DispatchTime.now().uptimeNanoseconds
            tokens = 0
            for line in lines { tokens += tok.encode(line).count }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        print(String(format: "encode: %d lines, %.2f MB, %d tokens, %.3f s, %.2f MB/s (best of 3, one thread)",
                     lines.count, Double(bytes) / 1e6, tokens, best, Double(bytes) / 1e6 / best))
    }
}

/// Serializes small SentencePiece `ModelProto`s for hand-made test models.
enum ModelBytes {
    static func varint(_ v: UInt64) -> [UInt8] {
        var v = v
        var out: [UInt8] = []
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        return out + [UInt8(v)]
    }

    static func field(_ number: Int, _ payload: [UInt8]) -> [UInt8] {
        varint(UInt64(number << 3 | 2)) + varint(UInt64(payload.count)) + payload
    }

    static func field(_ number: Int, varint value: UInt64) -> [UInt8] {
        varint(UInt64(number << 3)) + varint(value)
    }

    /// A BPE model: `<unk>` (id 0), `<s>` (1), `</s>` (2), then `pieces` as (text, score, type); identity
    /// normalization without dummy prefix, no byte fallback.
    static func bpe(pieces: [(String, Float, Int)]) -> Data {
        var out: [UInt8] = []
        let all: [(String, Float, Int)] = [("<unk>", 0, 2), ("<s>", 0, 3), ("</s>", 0, 3)] + pieces
        for (text, score, type) in all {
            var bits = score.bitPattern
            let scoreBytes = (0..<4).map { _ -> UInt8 in
                defer { bits >>= 8 }
                return UInt8(bits & 0xFF)
            }
            out += field(1, field(1, Array(text.utf8)) + [0x15] + scoreBytes + field(3, varint: UInt64(type)))
        }
        out += field(2, field(3, varint: 2))  // trainer_spec.model_type = BPE
        out += field(3, field(1, Array("identity".utf8)) + field(3, varint: 0) + field(4, varint: 0))
        return Data(out)
    }
}
