import Autograd
import Checkpoint
import Foundation
import XCTest
@testable import Gemma

/// PEFT interop on the `hf/gqa` fixture and the adapter `Fixtures/lora/make_lora_reference.py` saved
/// with `peft` (r 4, alpha 8, all seven projections, random A and B): our model with that adapter gives
/// the logits `PeftModel.from_pretrained` gave (1e-4 max-abs), our export of it reads back bit for bit
/// under PEFT's key names, and a mismatched adapter is refused in one line.
final class LoRAPEFTTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let adapter = fixtures.appendingPathComponent("lora/adapter").path

    struct Inputs: Decodable {
        let inputIds: [[Int32]]
        enum CodingKeys: String, CodingKey { case inputIds = "input_ids" }
    }

    /// The fixture's base with the PEFT adapter loaded.
    func adaptedModel() throws -> GemmaModel {
        let base = try HuggingFaceDirectory.load(Self.fixtures.appendingPathComponent("hf/gqa").path).model
        let lora = try PEFTAdapter.readConfig(Self.adapter)
        XCTAssertEqual(lora, LoRA(rank: 4, alpha: 8, targets: LoRA.targetNames))
        let model = GemmaModel(config: base.config, lora: lora)
        XCTAssertEqual(model.copyParameters(from: base), [])
        try PEFTAdapter.load(Self.adapter, into: model)
        return model
    }

    func testLogitsMatchPEFT() throws {
        let model = try adaptedModel()
        let inputs = try JSONDecoder().decode(Inputs.self, from: Data(contentsOf: Self.fixtures.appendingPathComponent("hf/gqa/inputs.json")))
        let expected = try SafeTensorsFile(path: Self.fixtures.appendingPathComponent("lora/logits.safetensors").path).readFloats("logits")
        let logits = withNoGrad { model.logits(ids: inputs.inputIds.flatMap { $0 }, batch: inputs.inputIds.count) }.scalars
        XCTAssertEqual(logits.count, expected.count)
        let worst = zip(logits, expected).map { abs($0 - $1) }.max()!
        XCTAssertLessThanOrEqual(worst, 1e-4, "max-abs logit difference to PEFT")
        // The adapter matters: the base alone is far from PEFT's logits.
        let base = try HuggingFaceDirectory.load(Self.fixtures.appendingPathComponent("hf/gqa").path).model
        let plain = withNoGrad { base.logits(ids: inputs.inputIds.flatMap { $0 }, batch: inputs.inputIds.count) }.scalars
        XCTAssertGreaterThan(zip(plain, expected).map { abs($0 - $1) }.max()!, 1e-2)
    }

    /// Our export has PEFT's keys and shapes and reads back to the same adapters, bit for bit.
    func testExportRoundTrips() throws {
        let model = try adaptedModel()
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("peft-export-\(UUID().uuidString)").path
        try PEFTAdapter.save(model, base: "../hf/gqa", to: out)
        let ours = try SafeTensorsFile(path: out + "/" + PEFTAdapter.weightsFile)
        let peft = try SafeTensorsFile(path: Self.adapter + "/" + PEFTAdapter.weightsFile)
        XCTAssertEqual(ours.names.sorted(), peft.names.sorted())
        for name in peft.names {
            XCTAssertEqual(try ours.info(name).shape, try peft.info(name).shape, name)
            XCTAssertEqual(try ours.readFloats(name), try peft.readFloats(name), name)
        }
        XCTAssertEqual(try PEFTAdapter.readConfig(out), model.lora)
        let back = GemmaModel(config: model.config, lora: model.lora)
        try PEFTAdapter.load(out, into: back)
        let adapters = model.parameters.trainable
        XCTAssertEqual(Array(UnsafeBufferPointer(start: back.parameters.values.data + adapters.lowerBound, count: adapters.count)),
                       Array(UnsafeBufferPointer(start: model.parameters.values.data + adapters.lowerBound, count: adapters.count)))
    }

    func testMismatchedAdapterIsRefused() throws {
        let base = try HuggingFaceDirectory.load(Self.fixtures.appendingPathComponent("hf/gqa").path).model
        let model = GemmaModel(config: base.config, lora: LoRA(rank: 2, alpha: 8, targets: LoRA.targetNames))
        XCTAssertThrowsError(try PEFTAdapter.load(Self.adapter, into: model)) {
            XCTAssertTrue("\($0)".contains("r 4") && "\($0)".contains("r 2"), "\($0)")
        }
        let wrong = GemmaModel(config: GemmaConfig.tiny, lora: LoRA(rank: 4, alpha: 8, targets: LoRA.targetNames))
        XCTAssertThrowsError(try PEFTAdapter.load(Self.adapter, into: wrong)) {
            XCTAssertTrue("\($0)".contains("has shape"), "\($0)")
        }
    }
}
