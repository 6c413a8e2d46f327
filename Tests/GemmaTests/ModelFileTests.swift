import Autograd
import Foundation
import XCTest
@testable import Gemma

final class ModelFileTests: XCTestCase {
    func temporaryPath(_ name: String) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gemma-train-tests-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent(name).path
    }

    func testRoundTripKeepsEveryParameterAndTheTokenizer() throws {
        let config = GemmaConfig(vocabSize: 31, hiddenSize: 8, intermediateSize: 12, numHiddenLayers: 2,
                                 numAttentionHeads: 2, numKeyValueHeads: 1, headDim: 4, maxPositionEmbeddings: 16)
        let model = GemmaModel(config: config)
        model.initialize(seed: 1)
        let path = temporaryPath("model.h5")
        try ModelFile.save(model, tokenizer: [1, 2, 3, 250], to: path)
        let loaded = try ModelFile.load(path)
        XCTAssertEqual(loaded.model.config, config)
        XCTAssertEqual(loaded.model.parameters.values.scalars, model.parameters.values.scalars)
        XCTAssertEqual(loaded.tokenizer, [1, 2, 3, 250])
        // Saving again over it leaves no temporary file behind.
        try ModelFile.save(model, tokenizer: nil, to: path)
        let siblings = try FileManager.default.contentsOfDirectory(atPath: (path as NSString).deletingLastPathComponent)
        XCTAssertFalse(siblings.contains { $0.contains(".tmp-") }, "\(siblings)")
        XCTAssertNil(try ModelFile.load(path).tokenizer)
    }

    func testNotAModelFileIsAClearError() throws {
        let path = temporaryPath("other.h5")
        try Data("not hdf5".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try ModelFile.load(path)) { error in
            XCTAssertTrue("\(error)".contains(path), "\(error)")
        }
    }
}
