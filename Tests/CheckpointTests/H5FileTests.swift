import Foundation
import XCTest
@testable import Checkpoint

final class H5FileTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("H5FileTests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func testRoundTripOfTensorsAndAttributes() throws {
        let file = path("round-trip.h5")
        // w: [3, 17], b: [1], e: [2, 3, 4], s: [] (scalar), z: [0, 5] (empty)
        let w: [Float] = (0..<51).map { Float($0) * 0.25 - 3 }
        let b: [Float] = [.pi]
        let e: [Float] = (0..<24).map { Float(-$0) / 7 }
        let s: [Float] = [-0.0]
        let z: [Float] = []
        do {
            let h5 = try H5File.create(file)
            try h5.setAttribute("format", "gemma-train")
            try h5.setAttribute("config", "model:\n  preset: tiny  # ünïcødé\n")
            try h5.setAttribute("empty", "")
            try h5.setAttribute("format", "gemma-train-v2")  // replaces the first value
            try h5.writeFloats(w, shape: [3, 17], to: "/params/model.layers.0.mlp.up_proj.weight")
            try h5.writeFloats(b, shape: [1], to: "/params/model.norm.bias")
            try h5.writeFloats(e, shape: [2, 3, 4], to: "/optimizer/exp_avg/model.embed_tokens.weight")
            try h5.writeFloats(s, shape: [], to: "/state/scalar")
            try h5.writeFloats(z, shape: [0, 5], to: "/state/empty")
            try h5.setAttribute("scale", "0.5", on: "/params/model.norm.bias")
            try h5.flush()
            try h5.close()
        }

        let h5 = try H5File.open(file)
        XCTAssertEqual(try h5.stringAttribute("format"), "gemma-train-v2")
        XCTAssertEqual(try h5.stringAttribute("config"), "model:\n  preset: tiny  # ünïcødé\n")
        XCTAssertEqual(try h5.stringAttribute("empty"), "")
        XCTAssertEqual(try h5.stringAttribute("scale", on: "/params/model.norm.bias"), "0.5")

        let (wShape, wValues) = try h5.readFloats("/params/model.layers.0.mlp.up_proj.weight")
        XCTAssertEqual(wShape, [3, 17])
        XCTAssertEqual(wValues, w)
        let (bShape, bValues) = try h5.readFloats("/params/model.norm.bias")
        XCTAssertEqual(bShape, [1])
        XCTAssertEqual(bValues, b)
        let (eShape, eValues) = try h5.readFloats("/optimizer/exp_avg/model.embed_tokens.weight")
        XCTAssertEqual(eShape, [2, 3, 4])
        XCTAssertEqual(eValues, e)
        let (sShape, sValues) = try h5.readFloats("/state/scalar")
        XCTAssertEqual(sShape, [])
        XCTAssertEqual(sValues.map(\.bitPattern), s.map(\.bitPattern))
        let (zShape, zValues) = try h5.readFloats("/state/empty")
        XCTAssertEqual(zShape, [0, 5])
        XCTAssertEqual(zValues, [])

        XCTAssertTrue(h5.contains("/params"))
        XCTAssertTrue(h5.contains("/params/model.norm.bias"))
        XCTAssertFalse(h5.contains("/params/model.norm.weight"))
        XCTAssertFalse(h5.contains("/nowhere/model.norm.bias"))
    }

    func testCreateTruncatesAnExistingFile() throws {
        let file = path("truncate.h5")
        try H5File.create(file).writeFloats([1, 2], shape: [2], to: "/a")
        let h5 = try H5File.create(file)
        XCTAssertFalse(h5.contains("/a"))
    }

    func testChunkShapeKeepsChunksBounded() {
        XCTAssertEqual(H5File.chunkShape([3, 17]), [3, 17])
        XCTAssertEqual(H5File.chunkShape([256_000, 2048]), [512, 2048])
        XCTAssertEqual(H5File.chunkShape([10, 1 << 22]), [1, 1 << 20])
        XCTAssertEqual(H5File.chunkShape([1 << 21]), [1 << 20])
    }

    func testReadingAMissingDatasetNamesIt() throws {
        let file = path("missing.h5")
        try H5File.create(file).writeFloats([1], shape: [1], to: "/params/present")
        let h5 = try H5File.open(file)
        XCTAssertThrowsError(try h5.readFloats("/params/model.missing.weight")) { error in
            let text = String(describing: error)
            XCTAssertTrue(text.contains("/params/model.missing.weight"), text)
            XCTAssertTrue(text.contains(file), text)
            XCTAssertEqual((error as? H5Error)?.call, "H5Dopen2")
        }
        XCTAssertThrowsError(try h5.stringAttribute("nope")) { error in
            XCTAssertTrue(String(describing: error).contains("/@nope"), String(describing: error))
        }
    }

    func testOpeningAMissingFileNamesIt() {
        let file = path("does-not-exist.h5")
        XCTAssertThrowsError(try H5File.open(file)) { error in
            XCTAssertTrue(String(describing: error).contains("H5Fopen failed in \(file)"), String(describing: error))
        }
    }

    func testFlippedByteFailsTheChecksumNamingTheDataset() throws {
        let file = path("corrupt.h5")
        // x: [64], bytes that occur nowhere else in the file.
        let x: [Float] = (0..<64).map { 1000 + Float($0) * 1.125 }
        let y: [Float] = [1, 2, 3]
        do {
            let h5 = try H5File.create(file)
            try h5.writeFloats(x, shape: [64], to: "/params/victim")
            try h5.writeFloats(y, shape: [3], to: "/params/bystander")
            try h5.close()
        }

        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
        let pattern = x.withUnsafeBytes { Array($0.prefix(32)) }
        let start = try XCTUnwrap(firstIndex(of: pattern, in: bytes), "dataset bytes not found in the file")
        bytes[start + 100] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: file))

        let h5 = try H5File.open(file)
        XCTAssertThrowsError(try h5.readFloats("/params/victim")) { error in
            let text = String(describing: error)
            XCTAssertTrue(text.contains("/params/victim"), text)
            XCTAssertTrue(text.lowercased().contains("checksum"), text)
            XCTAssertEqual((error as? H5Error)?.call, "H5Dread")
        }
        XCTAssertEqual(try h5.readFloats("/params/bystander").values, y)
    }

    func testNumericAttributesGroupsAndListing() throws {
        let file = path("numbers.h5")
        do {
            let h5 = try H5File.create(file)
            try h5.createGroup("/state/deep")
            try h5.createGroup("/state")  // exists: nothing happens
            try h5.setAttribute("step", 12, on: "/state")
            try h5.setAttribute("step", -3, on: "/state")  // replaces
            try h5.setAttribute("seed", UInt64.max, on: "/state/deep")
            try h5.setAttribute("words", [1, UInt64.max, 0, 42], on: "/state/deep")
            try h5.setAttribute("lr", Double(Float(3e-4)))
            try h5.writeFloats([1, 2], shape: [2], to: "/params/b")
            try h5.writeFloats([1, 2, 3, 4, 5, 6], shape: [2, 3], to: "/params/a")
            try h5.writeBytes([7, 8, 9], to: "/tokenizer/model")
            try h5.close()
        }
        let h5 = try H5File.open(file)
        XCTAssertEqual(try h5.intAttribute("step", on: "/state"), -3)
        XCTAssertEqual(try h5.uint64Attribute("seed", on: "/state/deep"), .max)
        XCTAssertEqual(try h5.uint64ArrayAttribute("words", on: "/state/deep"), [1, .max, 0, 42])
        XCTAssertEqual(try h5.uint64ArrayAttribute("seed", on: "/state/deep"), [.max])
        XCTAssertEqual(Float(try h5.doubleAttribute("lr")), Float(3e-4))
        XCTAssertTrue(h5.hasAttribute("step", on: "/state"))
        XCTAssertFalse(h5.hasAttribute("step"))
        XCTAssertFalse(h5.hasAttribute("step", on: "/nowhere"))
        XCTAssertThrowsError(try h5.intAttribute("words", on: "/state/deep")) { error in
            XCTAssertTrue("\(error)".contains("/state/deep@words"), "\(error)")
            XCTAssertTrue("\(error)".hasSuffix(": not a single integer value"), "\(error)")
        }
        XCTAssertThrowsError(try h5.doubleAttribute("step", on: "/state")) { error in
            XCTAssertTrue("\(error)".contains("/state@step"), "\(error)")
        }
        XCTAssertEqual(try h5.datasets(), ["/params/a", "/params/b", "/tokenizer/model"])
        XCTAssertEqual(try h5.datasets(under: "/params"), ["/params/a", "/params/b"])
        XCTAssertEqual(try h5.datasets(under: "/state"), [])
        XCTAssertEqual(try h5.shape(of: "/params/a"), [2, 3])
        XCTAssertThrowsError(try h5.shape(of: "/params/c")) { error in
            XCTAssertTrue("\(error)".contains("/params/c"), "\(error)")
        }
    }

    /// A group of a Gemma 7B's size (254 parameters, plus margin) keeps every link, and a root with
    /// a dozen attributes every attribute, in its checksummed object header: no dataset name or
    /// attribute lies in an unchecksummed heap, and all of them read back.
    func testManyLinksAndAttributesStayInTheObjectHeader() throws {
        let file = path("many.h5")
        let h5 = try H5File.create(file)
        let names = (0..<600).map { "model.layers.\($0 / 9).self_attn.projection_\($0 % 9).weight" }
        for (index, name) in names.enumerated() { try h5.writeFloats([Float(index)], shape: [1], to: "/params/" + name) }
        for index in 0..<12 { try h5.setAttribute("attribute_\(index)", String(repeating: "x", count: 1000 * index)) }
        try h5.close()

        let reader = try H5File.open(file)
        XCTAssertEqual(try reader.datasets(under: "/params"), names.sorted().map { "/params/" + $0 })
        XCTAssertEqual(try reader.readFloats("/params/" + names[599]).values, [599])
        XCTAssertEqual(try reader.stringAttribute("attribute_11"), String(repeating: "x", count: 11000))
        for group in ["/", "/params"] {
            XCTAssertEqual(try reader.storage(of: group), .init(denseLinks: false, denseAttributes: false), group)
        }
    }

    /// A string attribute larger than an object header message (64 KiB), e.g. a huge run config, still
    /// writes and reads back; HDF5 keeps that one in dense storage.
    func testAnAttributeBeyondAHeaderMessageGoesToDenseStorage() throws {
        let file = path("big.h5")
        let h5 = try H5File.create(file)
        try h5.createGroup("/big")
        let text = (0..<100_000).map { String(UnicodeScalar(UInt8(97 + $0 % 26))) }.joined()
        try h5.setAttribute("run_config", text, on: "/big")
        try h5.setAttribute("small", "x", on: "/big")
        try h5.close()
        let reader = try H5File.open(file)
        XCTAssertEqual(try reader.stringAttribute("run_config", on: "/big"), text)
        XCTAssertEqual(try reader.stringAttribute("small", on: "/big"), "x")
        XCTAssertEqual(try reader.storage(of: "/big"), .init(denseLinks: false, denseAttributes: true))
    }

    func testBlocksOfADatasetAndVerifyingItAll() throws {
        let file = path("blocks.h5")
        // m: [5, 4] with element (r, c) = 10r + c.
        let m: [Float] = (0..<20).map { Float($0 / 4 * 10 + $0 % 4) }
        // big: [3, 2^20 + 5]: chunks of one partial row each, several per row.
        let columns = (1 << 20) + 5
        let big = [Float](repeating: 0.5, count: 3 * columns)
        do {
            let h5 = try H5File.create(file)
            try h5.writeFloats(m, shape: [5, 4], to: "/m")
            try h5.writeFloats(big, shape: [3, columns], to: "/big")
            try h5.writeFloats([2], shape: [], to: "/scalar")
            try h5.writeFloats([], shape: [0, 3], to: "/empty")
            try h5.close()
        }
        let h5 = try H5File.open(file)
        XCTAssertEqual(try h5.readFloats("/m", offset: [1, 2], count: [3, 2]), [12, 13, 22, 23, 32, 33])
        XCTAssertEqual(try h5.readFloats("/m", offset: [0, 0], count: [5, 4]), m)
        XCTAssertEqual(try h5.readFloats("/m", offset: [5, 0], count: [0, 4]), [])
        XCTAssertThrowsError(try h5.readFloats("/m", offset: [4, 0], count: [2, 4])) { error in
            XCTAssertTrue("\(error)".contains("/m"), "\(error)")
            XCTAssertTrue("\(error)".contains("outside the dataset's shape [5, 4]"), "\(error)")
        }
        XCTAssertEqual(try h5.readFloats("/big", offset: [2, columns - 2], count: [1, 2]), [0.5, 0.5])
        for dataset in ["/m", "/big", "/scalar", "/empty"] {
            XCTAssertNoThrow(try h5.verify(dataset), dataset)
        }
    }

    func testVerifyFindsAFlippedByteInAnyChunk() throws {
        let file = path("verify.h5")
        // x: [4, 2^19], two rows per 1 Mi-element chunk; the last chunk's bytes are unique.
        let columns = 1 << 19
        var x = [Float](repeating: 0, count: 4 * columns)
        for i in (2 * columns)..<(4 * columns) { x[i] = 1000 + Float(i % 4096) * 0.25 }
        do {
            let h5 = try H5File.create(file)
            try h5.writeFloats(x, shape: [4, columns], to: "/params/x")
            try h5.close()
        }
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
        let pattern = x[(2 * columns)...].prefix(8).withUnsafeBytes { Array($0) }
        let start = try XCTUnwrap(firstIndex(of: pattern, in: bytes), "chunk bytes not found in the file")
        bytes[start + 4_000_000] ^= 0x10
        try Data(bytes).write(to: URL(fileURLWithPath: file))

        let h5 = try H5File.open(file)
        XCTAssertEqual(try h5.readFloats("/params/x", offset: [0, 0], count: [2, columns]), Array(x[..<(2 * columns)]))
        XCTAssertThrowsError(try h5.verify("/params/x")) { error in
            let text = String(describing: error)
            XCTAssertTrue(text.contains("/params/x") && text.contains(file), text)
            XCTAssertTrue(text.lowercased().contains("checksum"), text)
        }
    }

    private func firstIndex(of pattern: [UInt8], in bytes: [UInt8]) -> Int? {
        guard bytes.count >= pattern.count else { return nil }
        return (0...(bytes.count - pattern.count)).first { bytes[$0..<($0 + pattern.count)].elementsEqual(pattern) }
    }
}
