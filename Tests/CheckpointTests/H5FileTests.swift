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

    private func firstIndex(of pattern: [UInt8], in bytes: [UInt8]) -> Int? {
        guard bytes.count >= pattern.count else { return nil }
        return (0...(bytes.count - pattern.count)).first { bytes[$0..<($0 + pattern.count)].elementsEqual(pattern) }
    }
}
