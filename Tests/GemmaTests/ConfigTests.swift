import Foundation
import XCTest
@testable import Gemma

final class ConfigTests: XCTestCase {
    /// Exact counts from GEMMA.md (HF vocabulary 256000) and the report's embedding sizes (256128).
    func testParameterCounts() {
        XCTAssertEqual(GemmaConfig.gemma2B.parameterCount.total, 2_506_172_416)
        XCTAssertEqual(GemmaConfig.gemma2B.parameterCount.nonEmbedding, 1_981_884_416)
        XCTAssertEqual(GemmaConfig.gemma7B.parameterCount.total, 8_537_680_896)
        XCTAssertEqual(GemmaConfig.gemma7B.parameterCount.nonEmbedding, 7_751_248_896)
        var report2B = GemmaConfig.gemma2B, report7B = GemmaConfig.gemma7B
        report2B.vocabSize = 256_128
        report7B.vocabSize = 256_128
        XCTAssertEqual(report2B.parameterCount.total - report2B.parameterCount.nonEmbedding, 524_550_144)
        XCTAssertEqual(report7B.parameterCount.total - report7B.parameterCount.nonEmbedding, 786_825_216)
    }

    /// The model registers exactly the parameters the count describes.
    func testModelMatchesCount() {
        for config in [GemmaConfig.tiny, .bench] {
            XCTAssertEqual(GemmaModel(config: config).parameters.count, config.parameterCount.total)
        }
    }

    /// `Configs/models/*.json` are HF config files equal to the Swift presets.
    func testPresetFilesMatch() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Configs/models").standardized
        for (name, preset) in GemmaConfig.presets {
            let data = try Data(contentsOf: dir.appendingPathComponent("\(name).json"))
            XCTAssertEqual(try JSONDecoder().decode(GemmaConfig.self, from: data), preset, name)
        }
    }

    /// A real-style config.json with optional keys missing and eos as a list decodes with HF defaults.
    func testDecodesHuggingFaceConfig() throws {
        let json = """
        {"architectures": ["GemmaForCausalLM"], "vocab_size": 256, "hidden_size": 32, "intermediate_size": 64,
         "num_hidden_layers": 2, "num_attention_heads": 4, "eos_token_id": [1, 107], "torch_dtype": "bfloat16"}
        """
        let c = try JSONDecoder().decode(GemmaConfig.self, from: Data(json.utf8))
        XCTAssertEqual(c.numKeyValueHeads, 4)
        XCTAssertEqual(c.headDim, 8)
        XCTAssertEqual(c.eosTokenId, 1)
        XCTAssertEqual(c.rmsNormEps, 1e-6)
    }

    func testValidationNamesTheKey() {
        var c = GemmaConfig.tiny
        XCTAssertNoThrow(try c.validate())
        c.numKeyValueHeads = 3
        XCTAssertThrowsError(try c.validate()) { XCTAssertTrue("\($0)".contains("num_key_value_heads"), "\($0)") }
        c = .tiny
        c.headDim = 7
        XCTAssertThrowsError(try c.validate()) { XCTAssertTrue("\($0)".contains("head_dim"), "\($0)") }
        for preset in GemmaConfig.presets.values { XCTAssertNoThrow(try preset.validate()) }
    }
}
