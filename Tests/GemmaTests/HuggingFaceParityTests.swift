import Autograd
import Checkpoint
import Foundation
import XCTest
@testable import Gemma

/// Our model against Hugging Face transformers' `GemmaForCausalLM` on tiny random models saved by
/// `Fixtures/hf/make_hf_fixtures.py` (MQA, GQA, MHA, and a query width different from hidden): logits
/// within 1e-4 max-abs, loss within 1e-5.
final class HuggingFaceParityTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/hf")

    struct Inputs: Decodable {
        let inputIds: [[Int32]], labels: [[Int32]], loss: Float
        enum CodingKeys: String, CodingKey { case inputIds = "input_ids", labels, loss }
    }

    func check(_ name: String, weightsFrom weightsDir: String? = nil, logitTolerance: Float = 1e-4,
               line: UInt = #line) throws {
        let dir = Self.fixtures.appendingPathComponent(name)
        let inputs = try JSONDecoder().decode(Inputs.self, from: Data(contentsOf: dir.appendingPathComponent("inputs.json")))
        let model = try HuggingFaceDirectory.load(Self.fixtures.appendingPathComponent(weightsDir ?? name).path).model
        let expected = try SafeTensorsFile(path: dir.appendingPathComponent("logits.safetensors").path).readFloats("logits")
        let ids = inputs.inputIds.flatMap { $0 }
        let batch = inputs.inputIds.count, time = inputs.inputIds[0].count
        let logits = withNoGrad { model.logits(ids: ids, batch: batch) }
        XCTAssertEqual(logits.count, expected.count, line: line)
        var worst: Float = 0
        for i in 0..<min(logits.count, expected.count) { worst = max(worst, abs(logits.data[i] - expected[i])) }
        XCTAssertLessThanOrEqual(worst, logitTolerance, "\(name): max-abs logit difference", line: line)

        // transformers shifts labels inside: position t predicts labels[t + 1].
        var targets: [Int32] = []
        for row in inputs.labels { targets += row.dropFirst() + [-100] }
        let loss = withNoGrad { model.loss(ids: ids, targets: targets, batch: batch).loss.item }
        XCTAssertEqual(loss, inputs.loss, accuracy: 1e-5, "\(name): loss", line: line)
        XCTAssertEqual(time * batch, targets.count)
    }

    func testMultiQuery() throws { try check("mqa") }
    func testGroupedQuery() throws { try check("gqa") }
    func testMultiHead() throws { try check("mha") }
    func testQueryWidthDiffersFromHidden() throws { try check("wideq") }
    /// The same MQA weights split over five shards with an index.
    func testShardedDirectory() throws { try check("mqa", weightsFrom: "mqa-sharded") }

    /// BF16 weights load, converted exactly: every value equals the F32 weight rounded to BF16.
    func testBFloat16Weights() throws {
        let f32 = try HuggingFaceDirectory.load(Self.fixtures.appendingPathComponent("mqa").path).model
        let bf16 = try HuggingFaceDirectory.load(Self.fixtures.appendingPathComponent("mqa-bf16").path).model
        for i in 0..<f32.parameters.count {
            let rounded = SafeTensors.float(bfloat16Bits: SafeTensors.bfloat16Bits(f32.parameters.values.data[i]))
            XCTAssertEqual(bf16.parameters.values.data[i], rounded)
        }
    }

    /// Our export reads back identically, as F32 and sharded.
    func testExportRoundTrip() throws {
        let model = try HuggingFaceDirectory.load(Self.fixtures.appendingPathComponent("gqa").path).model
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("gemma-export-\(getpid())")
        try HuggingFaceDirectory.save(model, tokenizer: [7, 8], to: out.path, maxShardBytes: 30_000)
        let back = try HuggingFaceDirectory.load(out.path)
        XCTAssertEqual(back.model.config, model.config)
        XCTAssertEqual(back.model.parameters.values.scalars, model.parameters.values.scalars)
        XCTAssertEqual(back.tokenizer, [7, 8])
    }

    func testMissingTensorIsNamed() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("gemma-broken-\(getpid())")
        try? FileManager.default.removeItem(at: out)
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let source = Self.fixtures.appendingPathComponent("mqa")
        try FileManager.default.copyItem(at: source.appendingPathComponent("config.json"), to: out.appendingPathComponent("config.json"))
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("config.json"))) as! [String: Any]
        config["num_hidden_layers"] = 3  // the weights have 2
        try JSONSerialization.data(withJSONObject: config).write(to: out.appendingPathComponent("config.json"))
        try FileManager.default.copyItem(at: source.appendingPathComponent("model.safetensors"), to: out.appendingPathComponent("model.safetensors"))
        XCTAssertThrowsError(try HuggingFaceDirectory.load(out.path)) { error in
            XCTAssertTrue("\(error)".contains("model.layers.2."), "\(error)")
        }
    }
}
