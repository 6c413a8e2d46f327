import Checkpoint
import Foundation
import Gemma
import XCTest
@testable import Training

/// CheckpointWriter and CheckpointReader: the version-2 file round trip, damaged files, config checks.
final class CheckpointFileTests: XCTestCase {
    var dir: URL!
    let fixture = CheckpointFixture()

    override func setUpWithError() throws { dir = try CheckpointFixture.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// Asserts that `body` throws a ``CheckpointError`` whose description starts with `file` and
    /// contains every one of `fragments`.
    func assertError(naming file: String, _ fragments: [String], file source: StaticString = #filePath,
                     line: UInt = #line, _ body: () throws -> Void) {
        do {
            try body()
            XCTFail("no error", file: source, line: line)
        } catch let error as CheckpointError {
            let text = error.description
            XCTAssertTrue(text.hasPrefix(file + ": "), text, file: source, line: line)
            for fragment in fragments { XCTAssertTrue(text.contains(fragment), "\(text) lacks \(fragment)", file: source, line: line) }
            XCTAssertFalse(text.contains("\n"), text, file: source, line: line)
        } catch {
            XCTFail("not a CheckpointError: \(error)", file: source, line: line)
        }
    }

    func testRoundTripOfStateAndEveryTensor() throws {
        let file = path("ckpt-00000007.h5")
        try fixture.write(step: 7, to: file)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), ["ckpt-00000007.h5", "latest"])
        XCTAssertEqual(CheckpointDirectory(path: dir.path).latest(), "ckpt-00000007.h5")

        let reader = try CheckpointReader.open(file)
        XCTAssertEqual(reader.version, "2")
        XCTAssertEqual(reader.kind, .causalLM)
        XCTAssertEqual(reader.modelConfig, CheckpointFixture.config)
        XCTAssertEqual(try reader.trainingState(), fixture.state(step: 7))
        XCTAssertEqual(reader.state?.randomness.generator, fixture.state(step: 7).randomness.generator)
        XCTAssertEqual(try reader.tokenizer(), CheckpointFixture.tokenizer)
        for group in TensorGroup.allCases {
            XCTAssertEqual(try reader.tensorNames(group), fixture.entries.map(\.name).sorted())
            for (index, entry) in fixture.entries.enumerated() {
                let (shape, values) = try reader.read(group, name: entry.name)
                XCTAssertEqual(shape, entry.shape)
                XCTAssertEqual(values.map(\.bitPattern), fixture.values(group, index, step: 7).map(\.bitPattern))
            }
        }
        // A rank's block: rows 2..<5 of the embedding [31, 8].
        let embedding = try XCTUnwrap(fixture.entries.firstIndex { $0.name == "model.embed_tokens.weight" })
        XCTAssertEqual(try reader.read(.adamV, name: "model.embed_tokens.weight", offset: [2, 0], count: [3, 8]),
                       Array(fixture.values(.adamV, embedding, step: 7)[16..<40]))
        XCTAssertNoThrow(try reader.verify())
        XCTAssertTrue(try reader.checkDatasets().allSatisfy { $0.error == nil })
        XCTAssertNoThrow(try reader.checkModel(CheckpointFixture.config, kind: .causalLM))

        // The model part is an ordinary model file.
        let model = try ModelFile.load(file)
        XCTAssertEqual(model.model.config, CheckpointFixture.config)
        XCTAssertEqual(model.tokenizer, CheckpointFixture.tokenizer)

        // For Fixtures/check_checkpoint_h5py.py: GEMMATRAIN_CKPT_OUT=DIR keeps a copy of this checkpoint.
        if let out = ProcessInfo.processInfo.environment["GEMMATRAIN_CKPT_OUT"] {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            try fixture.write(step: 7, to: CheckpointDirectory(path: out).checkpointPath(step: 7))
        }
    }

    func testRewardModelAndAStateWithoutGenerator() throws {
        let reward = CheckpointFixture(kind: .reward)
        XCTAssertTrue(reward.entries.contains { $0.name == "score.weight" })
        let file = path("reward.h5")
        let writer = try CheckpointWriter(path: file)
        for group in TensorGroup.allCases {
            for (index, entry) in reward.entries.enumerated() {
                try reward.values(group, index, step: 1).withUnsafeBufferPointer {
                    try writer.write(group, name: entry.name, shape: entry.shape, values: $0)
                }
            }
        }
        var state = reward.state(step: 1)
        state.randomness.generator = nil
        try writer.commit(state: state, tokenizer: [])
        let reader = try CheckpointReader.open(file)
        XCTAssertEqual(reader.kind, .reward)
        XCTAssertEqual(reader.state, state)
        XCTAssertEqual(try reader.tokenizer(), [])
        assertError(naming: file, ["model kind: checkpoint reward-model, run causal-lm"]) {
            try reader.checkModel(CheckpointFixture.config, kind: .causalLM)
        }
    }

    func testConfigMismatchNamesTheFirstDifferingKey() throws {
        let file = path("ckpt.h5")
        try fixture.write(step: 1, to: file)
        let reader = try CheckpointReader.open(file)
        var run = CheckpointFixture.config
        run.numHiddenLayers = 4
        assertError(naming: file, ["model config: num_hidden_layers: checkpoint 2, run 4"]) {
            try reader.checkModel(run, kind: .causalLM)
        }
        run.hiddenSize = 16
        assertError(naming: file, ["model config: hidden_size: checkpoint 8, run 16"]) {
            try reader.checkModel(run, kind: .causalLM)
        }
        run = CheckpointFixture.config
        run.ropeTheta = 500
        assertError(naming: file, ["model config: rope_theta: checkpoint 10000, run 500"]) {
            try reader.checkModel(run, kind: .causalLM)
        }
    }

    func testFlippedByteInADatasetNamesFileAndDataset() throws {
        let file = path("ckpt.h5")
        try fixture.write(step: 3, to: file)
        let victim = try XCTUnwrap(fixture.entries.firstIndex { $0.name == "model.layers.1.mlp.up_proj.weight" })
        try fixture.corrupt(.adamM, victim, step: 3, in: file)

        let reader = try CheckpointReader.open(file)
        let dataset = "dataset /optimizer/m/model.layers.1.mlp.up_proj.weight"
        assertError(naming: file, [dataset, "checksum mismatch"]) { try reader.verify() }
        assertError(naming: file, [dataset, "checksum mismatch"]) {
            _ = try reader.read(.adamM, name: "model.layers.1.mlp.up_proj.weight")
        }
        let checks = try reader.checkDatasets()
        XCTAssertEqual(checks.filter { $0.error != nil }.map(\.dataset), ["/optimizer/m/model.layers.1.mlp.up_proj.weight"])
        XCTAssertEqual(try reader.read(.params, name: "model.layers.1.mlp.up_proj.weight").values,
                       fixture.values(.params, victim, step: 3))
    }

    func testFlippedByteInTheTokenizerFailsItsChecksum() throws {
        let file = path("ckpt.h5")
        try fixture.write(step: 3, to: file)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
        let start = try XCTUnwrap(CheckpointFixture.firstIndex(of: CheckpointFixture.tokenizer, in: bytes))
        bytes[start + 3] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        let reader = try CheckpointReader.open(file)
        assertError(naming: file, ["dataset /tokenizer/model", "checksum mismatch"]) { _ = try reader.tokenizer() }
        assertError(naming: file, ["dataset /tokenizer/model", "checksum mismatch"]) { try reader.verify() }
    }

    func testTruncatedFilesAreErrorsNamingTheFile() throws {
        let whole = path("whole.h5")
        try fixture.write(step: 2, to: whole)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: whole))
        for length in [0, 7, 100, 2048, bytes.count / 3, bytes.count / 2, bytes.count - 4096, bytes.count - 1] {
            let file = path("cut-\(length).h5")
            try bytes.prefix(length).write(to: URL(fileURLWithPath: file))
            // Opening is enough to notice: the superblock records the file's end.
            assertError(naming: file, []) {
                let reader = try CheckpointReader.open(file)
                try reader.verify()
            }
        }
        assertError(naming: path("cut-\(bytes.count / 2).h5"), ["truncated file"]) {
            _ = try CheckpointReader.open(path("cut-\(bytes.count / 2).h5"))
        }
    }

    func testUnreadableAttributesAreNamed() throws {
        let file = path("ckpt.h5")
        try fixture.write(step: 2, to: file)
        do {
            let h5 = try H5File.open(file, mode: .readWrite)
            try h5.setAttribute("data_next_index", "soon", on: "/state")
            try h5.close()
        }
        assertError(naming: file, ["attribute /state@data_next_index", "not a single integer value"]) {
            _ = try CheckpointReader.open(file)
        }
        do {
            let h5 = try H5File.open(file, mode: .readWrite)
            try h5.setAttribute("version", "3")
            try h5.close()
        }
        assertError(naming: file, ["attribute /@version", "'3'"]) { _ = try CheckpointReader.open(file) }
        let other = path("other.h5")
        try H5File.create(other).writeFloats([1], shape: [1], to: "/x")
        assertError(naming: other, ["attribute /@format", "not a GemmaTrain file"]) { _ = try CheckpointReader.open(other) }
        assertError(naming: path("missing.h5"), ["H5Fopen"]) { _ = try CheckpointReader.open(path("missing.h5")) }
    }

    func testTimestampAndCodeRevision() throws {
        XCTAssertEqual(CheckpointState.timestamp(Date(timeIntervalSince1970: 1_795_714_800.75)), "2026-11-26T17:40:00Z")
        let revision = CodeRevision.current
        if let given = ProcessInfo.processInfo.environment[CodeRevision.environmentVariable], !given.isEmpty {
            XCTAssertEqual(revision, given)
        } else {
            // Tests run in the package directory, a git checkout (or an export of one: unknown).
            XCTAssertTrue(revision == "unknown" || revision.range(of: "^[0-9a-f]{40}(-dirty)?$", options: .regularExpression) != nil,
                          revision)
        }
    }

    func testVersion1ModelFilesReadWithoutState() throws {
        let model = GemmaModel(config: CheckpointFixture.config)
        model.initialize(seed: 5)
        let file = path("model.h5")
        try ModelFile.save(model, tokenizer: [1, 2, 3], to: file)
        let reader = try CheckpointReader.open(file)
        XCTAssertEqual(reader.version, "1")
        XCTAssertNil(reader.state)
        XCTAssertEqual(try reader.tensorNames(.adamM), [])
        XCTAssertEqual(try reader.tokenizer(), [1, 2, 3])
        XCTAssertNoThrow(try reader.verify())
        assertError(naming: file, ["version 1 model file without training state"]) { _ = try reader.trainingState() }
    }

    func testTheWriterPublishesOnlyCompleteCheckpoints() throws {
        let file = path("ckpt-00000005.h5")
        let writer = try CheckpointWriter(path: file)
        for (index, entry) in fixture.entries.enumerated() {
            for group in [TensorGroup.params, .adamM] {
                try fixture.values(group, index, step: 5).withUnsafeBufferPointer {
                    try writer.write(group, name: entry.name, shape: entry.shape, values: $0)
                }
            }
        }
        let first = fixture.entries[0]
        assertError(naming: file, ["dataset /params/\(first.name)", "written twice"]) {
            try fixture.values(.params, 0, step: 5).withUnsafeBufferPointer {
                try writer.write(.params, name: first.name, shape: first.shape, values: $0)
            }
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).count, 1)  // the temporary file
        assertError(naming: file, ["dataset /optimizer/v/", "not written"]) {
            try writer.commit(state: fixture.state(step: 5), tokenizer: [])
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])

        let abandoned = try CheckpointWriter(path: file)
        try [Float(1)].withUnsafeBufferPointer { try abandoned.write(.params, name: "x", shape: [1], values: $0) }
        abandoned.abandon()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
        assertError(naming: path("no-such-dir/ckpt.h5"), ["H5Fcreate"]) {
            _ = try CheckpointWriter(path: path("no-such-dir/ckpt.h5"))
        }
    }
}
