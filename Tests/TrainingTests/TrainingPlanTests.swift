import Foundation
import Gemma
import XCTest
@testable import Training

/// `TrainingPlan`'s arithmetic against figures known independently: the parameters a rank holds (the
/// trainer's memory report, Docs/Distributed.md), ZeRO's shard, the activations of Docs/Performance.md's
/// bench model counted tensor by tensor, and what each axis sends.
final class TrainingPlanTests: XCTestCase {
    /// `Configs/bench.yaml` with `overrides`.
    func bench(_ overrides: [String] = []) throws -> RunConfig {
        try RunConfig.load(path: RunConfigTests.root.appendingPathComponent("Configs/bench.yaml").path, overrides: overrides)
    }

    func plan(_ overrides: [String] = []) throws -> TrainingPlan {
        let config = try bench(overrides)
        return try TrainingPlan(config: config, model: try TrainingPlan.architecture(of: config))
    }

    /// 34,087,424 parameters on one rank, 17,310,208 on each of `model=2`, a ZeRO-1 shard of 17,043,712
    /// on `data=2` (the figures of the trainer's memory report).
    func testParametersGradientsAndOptimizerState() throws {
        let one = try plan().memory
        XCTAssertEqual(one.parameters, 4 * 34_087_424)
        XCTAssertEqual(one.gradients, one.parameters)
        XCTAssertEqual(one.optimizerState, 2 * 4 * 34_087_424)
        XCTAssertEqual(try plan(["mesh.model=2"]).memory.parameters, 4 * 17_310_208)
        let zero = try plan(["mesh.data=2", "train.micro_batch_size=4"])
        XCTAssertEqual(zero.memory.optimizerState, 2 * 4 * 17_043_712)
        XCTAssertTrue(zero.zero)
        XCTAssertEqual(try plan(["mesh.data=2", "train.micro_batch_size=4", "mesh.zero=false"]).memory.optimizerState, 2 * 4 * 34_087_424)
    }

    /// The bench model's activations at 8 x 256 tokens, counted tensor by tensor: per block x1, q, rope(q),
    /// k, rope(k), v, attention out, its 8 log-sum-exps, o, mid, x2, gate, up, GeGLU, down and the output;
    /// outside, the embedding, its scaled copy, the final norm and the kept [2048, 8192] logits; and
    /// backward's gradients. With recomputation, 8 block outputs and one block's inside.
    func testBenchActivations() throws {
        let n = 2048
        let block = n * (512 + 512 + 512 + 64 + 64 + 64 + 512 + 8 + 512 + 512 + 512 + 2048 + 2048 + 2048 + 512 + 512)
        let outside = n * (512 + 512 + 512) + n * 8192
        let gradients = n * (2 * 512 + 3 * 2048)
        XCTAssertEqual(try plan().memory.activations, 4 * (8 * block + outside + gradients))
        XCTAssertEqual(try plan(["train.recompute=block"]).memory.activations, 4 * (8 * n * 512 + block + outside + gradients))
    }

    /// One rank sends nothing over an axis of one; over `data=2` what a ring all-reduce of the gradients
    /// sends; over `model=2` recomputation adds the replayed forward sums.
    func testCommunication() throws {
        let one = try plan()
        XCTAssertEqual(one.modelAxisBytes, 0)
        XCTAssertEqual(one.dataAxisBytes, 0)
        XCTAssertEqual(try plan(["mesh.data=2", "train.micro_batch_size=4"]).dataAxisBytes, 4 * 34_087_424)
        // Docs/Distributed.md's table: 1 x 2 sends 144.7 MB over model; 2 x 2 73.4 MB over model, 69.2 MB over data.
        XCTAssertEqual(try plan(["mesh.model=2"]).modelAxisBytes, 4 * (34 * 2048 * 512 + 3 * 2048 + 2 * 8 * 64 * 512))
        let both = try plan(["mesh.data=2", "mesh.model=2", "train.micro_batch_size=4"])
        XCTAssertEqual(both.modelAxisBytes, 4 * (34 * 1024 * 512 + 3 * 1024 + 2 * 8 * 64 * 512))
        XCTAssertEqual(both.dataAxisBytes, 4 * 17_310_208)
        let (kept, replayed) = (try plan(["mesh.model=2"]), try plan(["mesh.model=2", "train.recompute=block"]))
        XCTAssertEqual(replayed.modelAxisBytes - kept.modelAxisBytes, 4 * 2 * 8 * 2048 * 512)  // a ring of 2 sends each sum once
    }

    /// A model that does not split names the key; a batch that does not split names the sizes.
    func testErrorsNameTheKey() throws {
        XCTAssertThrowsError(try plan(["mesh.model=3"])) { XCTAssertTrue("\($0)".contains("num_attention_heads (8) is not a multiple of mesh.model (3)"), "\($0)") }
        XCTAssertThrowsError(try plan(["mesh.data=3"])) { XCTAssertTrue("\($0)".contains("batch_size"), "\($0)") }
        XCTAssertThrowsError(try plan(["model.preset=null", "model.path=/nonexistent/config.json"])) {
            XCTAssertTrue("\($0)".contains("model.path /nonexistent/config.json"), "\($0)")
        }
    }
}
