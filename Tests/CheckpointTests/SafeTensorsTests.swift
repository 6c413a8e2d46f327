import Foundation
import XCTest
@testable import Checkpoint

/// Safetensors reading, writing and validation. Fixtures written by the Python reference implementation
/// live in `Fixtures/` (made by `Fixtures/make_fixtures.py`); the Hugging Face model directories in
/// `Tests/GemmaTests/Fixtures/hf` (made by `make_hf_fixtures.py` there) are read as well.
final class SafeTensorsTests: XCTestCase {
    private var directory: URL!

    /// This target's fixtures, found next to this source file.
    private static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures")
    /// The Hugging Face model directories of the Gemma tests.
    private static let hfFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("GemmaTests/Fixtures/hf")

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("SafeTensorsTests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
    private func fixture(_ name: String) -> String { Self.fixtures.appendingPathComponent(name).path }

    /// Asserts equal bit patterns, except that any NaN matches any NaN.
    private func assertSameFloats(_ actual: [Float], _ expected: [Float], _ message: String = "",
                                  file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, message, file: file, line: line)
        for (index, (a, e)) in zip(actual, expected).enumerated() where !(a.isNaN && e.isNaN) {
            if a.bitPattern != e.bitPattern {
                XCTFail("\(message) element \(index): \(a) (0x\(String(a.bitPattern, radix: 16))) != "
                        + "\(e) (0x\(String(e.bitPattern, radix: 16)))", file: file, line: line)
                return
            }
        }
    }

    /// Asserts that `body` throws a ``SafeTensorsError`` whose description names `file` and contains
    /// every string in `mentions`; returns the error.
    @discardableResult
    private func assertError(naming file: String, _ mentions: [String] = [], tensor: String? = nil,
                             line: UInt = #line, _ body: () throws -> Void) -> SafeTensorsError? {
        do {
            try body()
            XCTFail("no error thrown", line: line)
        } catch let error as SafeTensorsError {
            XCTAssertEqual(error.file, file, "\(error)", line: line)
            XCTAssertTrue(error.description.contains(file), "\(error)", line: line)
            for text in mentions {
                XCTAssertTrue(error.description.contains(text), "\"\(error)\" does not mention \"\(text)\"", line: line)
            }
            if let tensor { XCTAssertEqual(error.tensor, tensor, "\(error)", line: line) }
            return error
        } catch {
            XCTFail("unexpected error \(error)", line: line)
        }
        return nil
    }

    /// Writes a file with the given header JSON (not padded) and data bytes.
    private func rawFile(_ name: String, header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) throws -> String {
        let json = Array(header.utf8)
        var bytes: [UInt8] = []
        withUnsafeBytes(of: (declaredLength ?? UInt64(json.count)).littleEndian) { bytes += $0 }
        bytes += json + data
        let file = path(name)
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        return file
    }

    // MARK: Round trips

    func testF32RoundTripKeepsEveryBit() throws {
        // w: [3, 17], v: [37] with special values, s: [] (scalar), e: [0, 4] (empty)
        let w: [Float] = (0..<51).map { Float($0) * 0.25 - 3 }
        var v: [Float] = (0..<37).map { sin(Float($0)) * 1e3 }
        v[0] = -0.0; v[1] = .infinity; v[2] = -.infinity; v[3] = Float(bitPattern: 0x7FC0_1234)
        v[4] = .leastNonzeroMagnitude; v[5] = .greatestFiniteMagnitude
        let file = path("f32.safetensors")
        let writer = SafeTensorsWriter(dtype: .f32, metadata: ["format": "pt", "note": "ünï \"q\"\n"])
        let dataBytes = try writer.write([
            .init(name: "w", shape: [3, 17], values: w),
            .init(name: "v", shape: [37], values: v),
            .init(name: "s", shape: [], values: [42]),
            .init(name: "e", shape: [0, 4], values: []),
        ], to: file)
        XCTAssertEqual(dataBytes, (51 + 37 + 1) * 4)

        let reader = try SafeTensorsFile(path: file)
        XCTAssertEqual(reader.names, ["e", "s", "v", "w"])
        XCTAssertEqual(reader.metadata, ["format": "pt", "note": "ünï \"q\"\n"])
        XCTAssertEqual(try reader.info("w").shape, [3, 17])
        XCTAssertEqual(try reader.info("w").dtype, .f32)
        XCTAssertEqual(try reader.info("s").shape, [])
        XCTAssertEqual(try reader.info("e").elementCount, 0)
        XCTAssertEqual(reader.tensors.map(\.name), ["e", "s", "v", "w"], "data in name order")
        XCTAssertEqual(try reader.readFloats("w"), w)
        XCTAssertEqual(try reader.readFloats("v").map(\.bitPattern), v.map(\.bitPattern))
        XCTAssertEqual(try reader.readFloats("s"), [42])
        XCTAssertEqual(try reader.readFloats("e"), [])

        var into = [Float](repeating: .nan, count: 51)
        try into.withUnsafeMutableBufferPointer { try reader.readFloats("w", into: $0) }
        XCTAssertEqual(into, w)

        // The header is padded with spaces to a multiple of 8 bytes.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        let headerLength = bytes.prefix(8).withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        XCTAssertEqual(headerLength % 8, 0)
        XCTAssertEqual(bytes.count, 8 + Int(headerLength) + dataBytes)
    }

    func testBF16WriteRoundsToNearestEven() throws {
        // Hand-computed: BF16 keeps 7 mantissa bits, so around 1 its spacing is 2^-7 = 0.0078125.
        let cases: [(Float, UInt16, Float)] = [
            (1 + 0x1p-8, 0x3F80, 1),                   // exactly halfway between 1 and 1+2^-7: even is 1
            (1 + 3 * 0x1p-8, 0x3F82, 1 + 0x1p-6),      // halfway between 1+2^-7 (odd) and 1+2^-6: even is up
            (1 + 0x1p-8 + 0x1p-20, 0x3F81, 1 + 0x1p-7), // just past halfway: up
            (1 + 0x1p-8 - 0x1p-20, 0x3F80, 1),         // just below halfway: down
            (-1.00390625, 0xBF80, -1),                  // the sign does not matter
            (3.140625, 0x4049, 3.140625),              // exactly representable: unchanged
            (.pi, 0x4049, 3.140625),                   // pi = 0x40490FDB: the lower half 0x0FDB < 0x8000
            (Float(bitPattern: 0x7F7F_FFFF), 0x7F80, .infinity), // rounds past the largest BF16
            (.infinity, 0x7F80, .infinity),
            (-0.0, 0x8000, -0.0),
        ]
        for (value, bits, rounded) in cases {
            XCTAssertEqual(SafeTensors.bfloat16Bits(value), bits, "\(value)")
            XCTAssertEqual(SafeTensors.float(bfloat16Bits: bits).bitPattern, rounded.bitPattern, "\(value)")
        }
        XCTAssertEqual(SafeTensors.bfloat16Bits(.nan), 0x7FC0)

        // Through the writer: 20 copies of the cases (vector path and scalar tail).
        let values = Array(repeating: cases.map(\.0), count: 20).flatMap { $0 }
        let file = path("bf16.safetensors")
        try SafeTensorsWriter(dtype: .bf16).write([.init(name: "x", shape: [20, cases.count], values: values)], to: file)
        let reader = try SafeTensorsFile(path: file)
        XCTAssertEqual(try reader.info("x").dtype, .bf16)
        XCTAssertEqual(try reader.info("x").byteCount, values.count * 2)
        let stored = try reader.withRawBytes(of: "x") { Array($0.bindMemory(to: UInt16.self)) }
        XCTAssertEqual(stored, Array(repeating: cases.map(\.1), count: 20).flatMap { $0 })
        assertSameFloats(try reader.readFloats("x"), Array(repeating: cases.map(\.2), count: 20).flatMap { $0 })
    }

    func testBF16RoundingMatchesPyTorchBitForBit() throws {
        let reference = try SafeTensorsFile(path: fixture("bf16_rounding.safetensors"))
        let source = try reference.readFloats("source")
        let torchBits = try reference.withRawBytes(of: "torch") { Array($0.bindMemory(to: UInt16.self)) }
        XCTAssertGreaterThan(source.count, 2000)

        let file = path("rounded.safetensors")
        try SafeTensorsWriter(dtype: .bf16).write([.init(name: "source", shape: [source.count], values: source)], to: file)
        let ours = try SafeTensorsFile(path: file).withRawBytes(of: "source") { Array($0.bindMemory(to: UInt16.self)) }
        for index in source.indices {
            let isNaN = source[index].isNaN
            if isNaN {
                // PyTorch's vectorised conversion writes NaN as 0xFFFF, its scalar one as 0x7FC0: any NaN will do.
                XCTAssertTrue(SafeTensors.float(bfloat16Bits: ours[index]).isNaN)
                XCTAssertTrue(SafeTensors.float(bfloat16Bits: torchBits[index]).isNaN)
            } else {
                XCTAssertEqual(ours[index], torchBits[index],
                               "element \(index): 0x\(String(source[index].bitPattern, radix: 16))")
                XCTAssertEqual(SafeTensors.bfloat16Bits(source[index]), torchBits[index])
            }
        }
    }

    // MARK: Reading the reference implementation's files

    func testReadsEveryFloatDTypeAsPyTorchConvertsIt() throws {
        let file = try SafeTensorsFile(path: fixture("dtypes.safetensors"))
        XCTAssertEqual(file.metadata, ["format": "pt", "source": "make_fixtures.py"])
        XCTAssertEqual(file.names, ["bf16", "bf16_as_f32", "empty", "f16", "f16_as_f32", "f32", "f64", "i64",
                                    "matrix_bf16", "scalar"])
        let dtypes = Dictionary(uniqueKeysWithValues: file.tensors.map { ($0.name, $0.dtype) })
        XCTAssertEqual(dtypes["f16"], .f16)
        XCTAssertEqual(dtypes["bf16"], .bf16)
        XCTAssertEqual(dtypes["f64"], .f64)
        XCTAssertEqual(dtypes["i64"], .i64)
        XCTAssertEqual(try file.info("matrix_bf16").shape, [3, 16])

        let f32 = try file.readFloats("f32")
        XCTAssertEqual(f32.count, 37)
        assertSameFloats(try file.readFloats("f16"), try file.readFloats("f16_as_f32"), "F16")
        assertSameFloats(try file.readFloats("bf16"), try file.readFloats("bf16_as_f32"), "BF16")
        assertSameFloats(try file.readFloats("f64"), f32, "F64")
        XCTAssertEqual(try file.readFloats("matrix_bf16"), (-24..<24).map { Float($0) / 8 })
        XCTAssertEqual(try file.readFloats("scalar"), [2.5])
        XCTAssertEqual(try file.readFloats("empty"), [])

        // The F16 values include subnormals, overflow to infinity and underflow to zero.
        let f16 = try file.readFloats("f16")
        XCTAssertEqual(f16[10], .infinity)                 // 70000
        XCTAssertEqual(f16[13], 0x1p-24)                   // the smallest F16 subnormal
        XCTAssertEqual(f16[16], 0)                         // 1e-9

        assertError(naming: fixture("dtypes.safetensors"), ["I64", "cannot be read as Float32"], tensor: "i64") {
            _ = try file.readFloats("i64")
        }
        XCTAssertEqual(try file.withRawBytes(of: "i64") { Array($0.bindMemory(to: Int64.self)) }, [1, -2, 3])
        assertError(naming: fixture("dtypes.safetensors"), ["no such tensor"], tensor: "nope") {
            _ = try file.readFloats("nope")
        }
        var wrongSize = [Float](repeating: 0, count: 36)
        assertError(naming: fixture("dtypes.safetensors"), ["37 elements", "holds 36"], tensor: "f32") {
            try wrongSize.withUnsafeMutableBufferPointer { try file.readFloats("f32", into: $0) }
        }
    }

    func testConversionsFromUnalignedSources() throws {
        // 53 half-precision values (3 vector blocks and a tail) at an odd address.
        let halves: [UInt16] = (0..<53).map { UInt16(truncatingIfNeeded: $0 &* 2654435761 >> 7) }
        var bytes = [UInt8](repeating: 0, count: 1 + 2 * halves.count)
        for (i, h) in halves.enumerated() {
            bytes[1 + 2 * i] = UInt8(h & 0xFF)
            bytes[2 + 2 * i] = UInt8(h >> 8)
        }
        var out = [Float](repeating: 0, count: halves.count)
        for dtype in [SafeTensors.DType.bf16, .f16] {
            bytes.withUnsafeBytes { raw in
                out.withUnsafeMutableBufferPointer {
                    SafeTensors.convertToFloat(raw.baseAddress! + 1, dtype: dtype, count: halves.count, into: $0.baseAddress!)
                }
            }
            let expected = halves.map {
                dtype == .bf16 ? SafeTensors.float(bfloat16Bits: $0) : Float(float16BitsReference: $0)
            }
            assertSameFloats(out, expected, dtype.rawValue)
        }
    }

    func testF16ConversionIsExactForAllBitPatterns() {
        let all = (0...UInt16.max).map { $0 }
        var out = [Float](repeating: 0, count: all.count)
        all.withUnsafeBytes { raw in
            out.withUnsafeMutableBufferPointer {
                SafeTensors.convertToFloat(raw.baseAddress!, dtype: .f16, count: all.count, into: $0.baseAddress!)
            }
        }
        assertSameFloats(out, all.map { Float(float16BitsReference: $0) }, "F16")
        // NaNs keep their payload and sign, as a hardware conversion does.
        XCTAssertEqual(out[0x7E00].bitPattern, 0x7FC0_0000)
        XCTAssertEqual(out[0xFC01].bitPattern, 0xFF80_2000)
    }

    // MARK: Writing what the reference implementation writes

    func testWriterReproducesTheReferenceBytes() throws {
        let reference = try SafeTensorsFile(path: fixture("reference_f32.safetensors"))
        let tensors = try reference.tensors.reversed().map {
            SafeTensorsWriter.Tensor(name: $0.name, shape: $0.shape, values: try reference.readFloats($0.name))
        }
        for (dtype, name) in [(SafeTensors.DType.f32, "reference_f32.safetensors"), (.bf16, "reference_bf16.safetensors")] {
            let ours = path(name)
            try SafeTensorsWriter(dtype: dtype, metadata: ["format": "pt"]).write(tensors, to: ours)
            let expected = try Data(contentsOf: URL(fileURLWithPath: fixture(name)))
            let actual = try Data(contentsOf: URL(fileURLWithPath: ours))
            XCTAssertEqual(actual, expected, "\(name): ours \(String(decoding: actual.prefix(400), as: UTF8.self))")
        }
    }

    func testHeaderEncodingEscapesAsSerdeJSON() {
        XCTAssertEqual(SafeTensors.jsonString("a\"b\\c\n\t\u{01}é/"), "\"a\\\"b\\\\c\\n\\t\\u0001é/\"")
        let header = SafeTensors.encodeHeader(
            [.init(name: "w", dtype: .bf16, shape: [2, 3], dataOffsets: 0 ..< 12)], metadata: nil)
        XCTAssertEqual(String(decoding: header, as: UTF8.self),
                       "{\"w\":{\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[0,12]}}      ")  // 58 + 6
    }

    // MARK: Hugging Face model directories

    func testReadsSingleShardedAndBF16ModelDirectories() throws {
        let single = try SafeTensorsDirectory(path: Self.hfFixtures.appendingPathComponent("mqa").path)
        XCTAssertEqual(single.files.count, 1)
        XCTAssertEqual(single.names.count, 20)   // 9 per layer x 2 + embedding + final norm; lm_head is tied
        XCTAssertFalse(single.contains("lm_head.weight"))
        XCTAssertEqual(try single.info("model.embed_tokens.weight").shape, [256, 32])
        XCTAssertEqual(try single.info("model.layers.1.self_attn.k_proj.weight").shape, [8, 32])  // 1 kv head
        XCTAssertEqual(try single.info("model.layers.0.self_attn.q_proj.weight").shape, [32, 32])
        XCTAssertEqual(single.files[0].metadata["format"], "pt")

        let sharded = try SafeTensorsDirectory(path: Self.hfFixtures.appendingPathComponent("mqa-sharded").path)
        XCTAssertEqual(sharded.files.count, 5)
        XCTAssertEqual(sharded.files.map { URL(fileURLWithPath: $0.path).lastPathComponent },
                       (1...5).map { "model-0000\($0)-of-00005.safetensors" })
        XCTAssertEqual(sharded.names, single.names)

        let bf16 = try SafeTensorsDirectory(path: Self.hfFixtures.appendingPathComponent("mqa-bf16").path)
        XCTAssertEqual(bf16.names, single.names)

        for name in single.names {
            let values = try single.readFloats(name)
            XCTAssertEqual(try sharded.readFloats(name), values, name)
            XCTAssertEqual(try bf16.info(name).dtype, .bf16)
            // PyTorch's BF16 copy equals our rounding of the F32 weights.
            XCTAssertEqual(try bf16.readFloats(name),
                           values.map { SafeTensors.float(bfloat16Bits: SafeTensors.bfloat16Bits($0)) }, name)
        }
        let norm = try single.readFloats("model.norm.weight")
        XCTAssertTrue(norm.contains { $0 != 0 }, "the fixture's norm offsets are random, not HF's zeros")

        var buffer = [Float](repeating: 0, count: 256 * 32)
        try buffer.withUnsafeMutableBufferPointer { try bf16.readFloats("model.embed_tokens.weight", into: $0) }
        XCTAssertEqual(buffer, try bf16.readFloats("model.embed_tokens.weight"))
    }

    func testWriteModelShardsAsTransformersAndReplacesEarlierSaves() throws {
        let model = path("model")
        let source = try SafeTensorsDirectory(path: Self.hfFixtures.appendingPathComponent("mqa").path)
        let tensors = try source.names.map { name in
            SafeTensorsWriter.Tensor(name: name, shape: try source.info(name).shape) { buffer in
                try source.readFloats(name, into: buffer)
            }
        }
        // 20 KB shards: the embedding (32 KB) alone, then layer tensors grouped in name order.
        let written = try SafeTensorsWriter().writeModel(tensors, toDirectory: model, maxShardBytes: 20_000)
        XCTAssertEqual(written.last, "model.safetensors.index.json")
        let shards = written.dropLast()
        XCTAssertGreaterThan(shards.count, 3)
        XCTAssertEqual(shards.first, "model-00001-of-0000\(shards.count).safetensors")
        for shard in shards.dropFirst() {
            let file = try SafeTensorsFile(path: directory.appendingPathComponent("model/\(shard)").path)
            XCTAssertLessThanOrEqual(file.tensors.reduce(0) { $0 + $1.byteCount }, 20_000)
        }
        let reread = try SafeTensorsDirectory(path: model)
        XCTAssertEqual(reread.names, source.names)
        for name in source.names {
            XCTAssertEqual(try reread.readFloats(name), try source.readFloats(name), name)
        }

        // The index matches transformers' own index byte for byte, given the same weight map.
        let hfIndexPath = Self.hfFixtures.appendingPathComponent("mqa-sharded/model.safetensors.index.json")
        struct Index: Decodable { let weight_map: [String: String] }
        let hfIndexText = try String(contentsOf: hfIndexPath, encoding: .utf8)
        let hfIndex = try JSONDecoder().decode(Index.self, from: Data(hfIndexText.utf8))
        let ourIndex = SafeTensorsWriter.indexJSON(hfIndex.weight_map.map { ($0.key, $0.value) },
                                                   totalSize: 103_040, totalParameters: 25_760)
        XCTAssertEqual(ourIndex, hfIndexText)

        // Saving unsharded into the same directory removes the earlier shards and index.
        try FileManager.default.createDirectory(atPath: model + "/keep", withIntermediateDirectories: false)
        try Data("tokenizer".utf8).write(to: URL(fileURLWithPath: model + "/tokenizer.model"))
        let again = try SafeTensorsWriter(dtype: .bf16).writeModel(Array(tensors.prefix(3)), toDirectory: model)
        XCTAssertEqual(again, ["model.safetensors"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: model).sorted(),
                       ["keep", "model.safetensors", "tokenizer.model"])
        XCTAssertEqual(try SafeTensorsDirectory(path: model).names, Array(source.names.prefix(3)))
    }

    func testDirectoryErrorsNameTheDirectoryFileAndTensor() throws {
        assertError(naming: path("absent"), ["not a directory"]) { _ = try SafeTensorsDirectory(path: path("absent")) }
        let empty = path("empty")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: false)
        assertError(naming: empty, ["no model.safetensors or model.safetensors.index.json"]) {
            _ = try SafeTensorsDirectory(path: empty)
        }

        // An index naming a tensor its shard lacks, a missing shard, a shard outside the directory.
        let model = path("model")
        try FileManager.default.createDirectory(atPath: model, withIntermediateDirectories: false)
        try SafeTensorsWriter().write([.init(name: "a", shape: [2], values: [1, 2])],
                                      to: model + "/model-00001-of-00001.safetensors")
        func index(_ map: [String: String]) throws {
            let json = try JSONSerialization.data(withJSONObject: ["metadata": [:], "weight_map": map])
            try json.write(to: URL(fileURLWithPath: model + "/model.safetensors.index.json"))
        }
        try index(["a": "model-00001-of-00001.safetensors", "b": "model-00001-of-00001.safetensors"])
        assertError(naming: model + "/model-00001-of-00001.safetensors", ["listed in model.safetensors.index.json"],
                    tensor: "b") { _ = try SafeTensorsDirectory(path: model) }
        try index(["a": "model-00002-of-00002.safetensors"])
        let error = assertError(naming: model + "/model-00002-of-00002.safetensors", ["No such file"]) {
            _ = try SafeTensorsDirectory(path: model)
        }
        XCTAssertEqual(error?.errno, ENOENT)
        try index(["a": "../elsewhere.safetensors"])
        assertError(naming: model + "/model.safetensors.index.json", ["not a file name"], tensor: "a") {
            _ = try SafeTensorsDirectory(path: model)
        }
        try Data("{\"weight_map\": [1]}".utf8).write(to: URL(fileURLWithPath: model + "/model.safetensors.index.json"))
        assertError(naming: model + "/model.safetensors.index.json", ["invalid index"]) {
            _ = try SafeTensorsDirectory(path: model)
        }
        try index(["a": "model-00001-of-00001.safetensors"])
        let good = try SafeTensorsDirectory(path: model)
        assertError(naming: model, ["no such tensor"], tensor: "b") { _ = try good.readFloats("b") }
    }

    // MARK: Validation

    func testTruncatedFilesAreErrorsNamingTheFile() throws {
        let whole = try Data(contentsOf: URL(fileURLWithPath: fixture("reference_f32.safetensors")))
        let cases: [(Int, String)] = [
            (0, "shorter than the 8-byte header length"),
            (5, "shorter than the 8-byte header length"),
            (8, "runs past the end"),
            (100, "runs past the end"),
            (whole.count - 1, "run past the end of the 255-byte data section"),
            (whole.count - 200, "run past the end"),
        ]
        for (length, reason) in cases {
            let file = path("truncated-\(length).safetensors")
            try whole.prefix(length).write(to: URL(fileURLWithPath: file))
            assertError(naming: file, [reason]) { _ = try SafeTensorsFile(path: file) }
        }
        let file = path("trailing.safetensors")
        try (whole + [0, 0, 0, 0]).write(to: URL(fileURLWithPath: file))
        assertError(naming: file, ["cover 256 bytes but the data section holds 260"]) { _ = try SafeTensorsFile(path: file) }

        let missing = path("missing.safetensors")
        let error = assertError(naming: missing, ["open failed", "No such file"]) { _ = try SafeTensorsFile(path: missing) }
        XCTAssertEqual(error?.errno, ENOENT)
        assertError(naming: directory.path, ["not a regular file"]) { _ = try SafeTensorsFile(path: directory.path) }
    }

    func testCorruptedHeadersAreErrorsNamingFileAndTensor() throws {
        let f32x2 = #""dtype":"F32","shape":[2],"data_offsets":"#
        let eight = [UInt8](repeating: 0, count: 8)
        let cases: [(header: String, data: [UInt8], declared: UInt64?, mentions: [String], tensor: String?)] = [
            ("{}", [], UInt64.max, ["exceeds the 100000000-byte limit"], nil),
            ("[1, 2]", [], nil, ["does not start with '{'"], nil),
            ("{\"a\": {", [], nil, ["invalid header"], nil),
            ("{\"a\":{\(f32x2)[0,8]}}", eight, nil, [], nil),  // valid: checks the helper
            ("{\"a\":{\"dtype\":\"F7\",\"shape\":[2],\"data_offsets\":[0,8]}}", eight, nil, ["unsupported dtype \"F7\""], "a"),
            ("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", eight, nil,
             ["hold 8 bytes, but shape [3] of F32 needs 12"], "a"),
            ("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", eight, nil, ["negative dimension"], "a"),
            ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", eight, nil, ["data_offsets [8, 0]"], "a"),
            ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", eight, nil, ["data_offsets [0]"], "a"),
            ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", eight, nil, ["missing key \"data_offsets\""], "a"),
            ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", eight, nil,
             ["invalid header: shape: expected an array of integers"], "a"),
            ("{\"a\":{\(f32x2)[0,8]},\"b\":{\(f32x2)[4,12]}}", eight + [0, 0, 0, 0], nil, ["overlap tensor a"], "b"),
            ("{\"a\":{\(f32x2)[0,8]},\"b\":{\(f32x2)[12,20]}}", eight + eight + [0, 0, 0, 0], nil, ["leave a hole"], "b"),
            ("{\"a\":{\(f32x2)[4,12]}}", eight + [0, 0, 0, 0], nil, ["leave a hole: the previous tensor ends at 0"], "a"),
            ("{\"__metadata__\":{\"format\":1},\"a\":{\(f32x2)[0,8]}}", eight, nil, ["__metadata__"], nil),
            ("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,8]}}", eight, nil,
             ["too large"], "a"),
        ]
        for (index, item) in cases.enumerated() {
            let file = try rawFile("corrupt-\(index).safetensors", header: item.header, data: item.data,
                                   declaredLength: item.declared)
            if item.mentions.isEmpty {
                XCTAssertEqual(try SafeTensorsFile(path: file).readFloats("a"), [0, 0], "case \(index)")
                continue
            }
            let error = assertError(naming: file, item.mentions, tensor: item.tensor, line: UInt(1000 + index)) {
                _ = try SafeTensorsFile(path: file)
            }
            if let tensor = item.tensor { XCTAssertTrue(error?.description.contains("tensor \(tensor):") ?? false) }
        }
    }

    // MARK: Atomic writes

    func testFailedWriteLeavesTheEarlierFileAndNoTemporaryFile() throws {
        struct Interrupted: Error {}
        let file = path("atomic.safetensors")
        try SafeTensorsWriter().write([.init(name: "old", shape: [1], values: [1])], to: file)
        let before = try Data(contentsOf: URL(fileURLWithPath: file))
        XCTAssertThrowsError(try SafeTensorsWriter().write([
            .init(name: "a", shape: [1000], values: [Float](repeating: 2, count: 1000)),
            .init(name: "b", shape: [1000]) { _ in throw Interrupted() },
        ], to: file)) { XCTAssertTrue($0 is Interrupted) }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: file)), before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["atomic.safetensors"])

        assertError(naming: file, ["given twice"], tensor: "x") {
            try SafeTensorsWriter().write([.init(name: "x", shape: [1], values: [1]),
                                           .init(name: "x", shape: [1], values: [2])], to: file)
        }
        assertError(naming: file, ["not a valid tensor name"], tensor: "__metadata__") {
            try SafeTensorsWriter().write([.init(name: "__metadata__", shape: [1], values: [1])], to: file)
        }
        let unwritable = path("no/such/dir/x.safetensors")
        assertError(naming: unwritable, ["open", "No such file"]) {
            try SafeTensorsWriter().write([.init(name: "x", shape: [1], values: [1])], to: unwritable)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["atomic.safetensors"])
    }

    func testFillClosureProducesValuesAtWriteTime() throws {
        let file = path("fill.safetensors")
        var calls = 0
        try SafeTensorsWriter(dtype: .bf16, metadata: nil).write([
            .init(name: "ramp", shape: [4, 5]) { buffer in
                calls += 1
                XCTAssertEqual(buffer.count, 20)
                for i in buffer.indices { buffer[i] = Float(i) }
            },
        ], to: file)
        XCTAssertEqual(calls, 1)
        let reader = try SafeTensorsFile(path: file)
        XCTAssertEqual(reader.metadata, [:])
        XCTAssertEqual(try reader.readFloats("ramp"), (0..<20).map(Float.init))
    }
}

private extension Float {
    /// IEEE half → single by the textbook case analysis: a reference for the vectorised conversion.
    init(float16BitsReference bits: UInt16) {
        let sign: UInt32 = UInt32(bits >> 15) << 31
        let exponent = Int((bits >> 10) & 0x1F)
        let mantissa = UInt32(bits & 0x3FF)
        switch exponent {
        case 0:
            let magnitude = Float(mantissa) * 0x1p-24
            self = Float(bitPattern: magnitude.bitPattern | sign)
        case 31:
            self = Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        default:
            self = Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
        }
    }
}
