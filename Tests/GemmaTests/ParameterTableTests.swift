import Autograd
import Checkpoint
import Foundation
import NN
import XCTest
@testable import Gemma

/// ``GemmaParameter/table`` against what it must agree with, each written down here independently of
/// it: the tensors transformers saves, Gemma's published parameter counts, the split rules of
/// Docs/Distributed.md, PEFT's module names, and Hugging Face's initialisation.
final class ParameterTableTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A preset as `Configs/models/<name>.json` holds it.
    func preset(_ name: String) throws -> GemmaConfig {
        try JSONDecoder().decode(GemmaConfig.self, from: Data(contentsOf: Self.root.appendingPathComponent("Configs/models/\(name).json")))
    }

    /// Hugging Face's state-dict names for a causal LM of `layers` layers, in `save_pretrained`'s order.
    func huggingFaceNames(layers: Int) -> [String] {
        let perLayer = ["input_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                        "post_attention_layernorm", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]
        return ["model.embed_tokens.weight"] + (0..<layers).flatMap { i in perLayer.map { "model.layers.\(i).\($0).weight" } }
            + ["model.norm.weight"]
    }

    /// The tensors of the models transformers saved (MQA, GQA, MHA, query width != hidden) are exactly
    /// the table's, with the same shapes.
    func testTableIsWhatTransformersSaves() throws {
        for name in ["mqa", "gqa", "mha", "wideq"] {
            let dir = Self.root.appendingPathComponent("Tests/GemmaTests/Fixtures/hf/\(name)").path
            let config = try JSONDecoder().decode(GemmaConfig.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/config.json")))
            let weights = try SafeTensorsDirectory(path: dir)
            let table = GemmaParameter.all(config)
            XCTAssertEqual(Set(weights.names), Set(table.map(\.name)), name)
            for p in table { XCTAssertEqual(try weights.info(p.name).shape, p.shape, "\(name) \(p.name)") }
        }
    }

    /// For tiny, gemma-2b (MQA) and gemma-7b (MHA) from Configs/models: the table lists HF's names in
    /// HF's order with the published parameter counts, and a model registers exactly the table (name,
    /// full shape, weight decay), also with a reward head. 2B and 7B are too large to build here; the
    /// models built are their head and layer structure at small widths.
    func testTableCoversExactlyTheRegisteredParameters() throws {
        let counts = ["tiny": 4096 * 128 + 4 * (2 * 128 * 128 + 2 * 32 * 128 + 3 * 128 * 512 + 2 * 128) + 128,
                      "gemma-2b": 2_506_172_416, "gemma-7b": 8_537_680_896]
        for (name, total) in counts {
            let config = try preset(name)
            let table = GemmaParameter.all(config)
            XCTAssertEqual(table.map(\.name), huggingFaceNames(layers: config.numHiddenLayers), name)
            XCTAssertEqual(table.reduce(0) { $0 + $1.count }, total, name)
            XCTAssertEqual(GemmaParameter.all(config, head: .reward).map(\.name), table.map(\.name) + ["score.weight"], name)

            var small = config
            (small.vocabSize, small.hiddenSize, small.intermediateSize, small.headDim) = (40, 16, 24, 4)
            for head in [GemmaModel.Head.causalLM, .reward] {
                let model = GemmaModel(config: name == "tiny" ? config : small, head: head)
                let expected = GemmaParameter.all(model.config, head: head)
                XCTAssertEqual(model.parameterTable, expected, "\(name) \(head)")
                XCTAssertEqual(model.parameters.entries.map(\.name), expected.map(\.name), "\(name) \(head)")
                XCTAssertEqual(model.parameters.entries.map(\.sharding.fullShape), expected.map(\.shape), "\(name) \(head)")
                XCTAssertEqual(model.parameters.entries.map(\.decay), expected.map(\.decays), "\(name) \(head)")
            }
        }
    }

    /// Weight decay: every matrix but the embedding (and the reward head's `score` is a matrix); no norm.
    func testWeightDecayChoices() {
        for p in GemmaParameter.all(.tiny, head: .reward) {
            XCTAssertEqual(p.decays, p.shape.count == 2 && p.name != "model.embed_tokens.weight", p.name)
        }
    }

    /// A rank of a group that never communicates: building a layout needs only rank and size.
    final class Rank: ShardGroup {
        let rank: Int, size: Int
        init(_ rank: Int, of size: Int) { (self.rank, self.size) = (rank, size) }
        func sum(_ buffer: UnsafeMutableBufferPointer<Float>) { fatalError("no collectives here") }
        func max(_ buffer: UnsafeMutableBufferPointer<Float>) { fatalError("no collectives here") }
    }

    /// Docs/Distributed.md's table, by name: q, gate, up and the embedding by rows; k and v by rows when
    /// the kv heads divide over the ranks, else whole on every rank with gradients summed; o and down by
    /// columns; the rest whole.
    func documentedSplit(_ name: String, kvHeads: Int, ranks m: Int) -> (Sharding.Split, sumsGradient: Bool) {
        let projection = name.split(separator: ".").dropLast().last.map(String.init) ?? ""
        switch projection {
        case "q_proj", "gate_proj", "up_proj", "embed_tokens": return (m == 1 ? .replicated : .rows, false)
        case "k_proj", "v_proj": return m == 1 ? (.replicated, false) : kvHeads >= m ? (.rows, false) : (.replicated, true)
        case "o_proj", "down_proj": return (m == 1 ? .replicated : .columns, false)
        default: return (.replicated, false)
        }
    }

    /// The splits the table gives equal the documented ones on every rank of every mesh size the
    /// presets allow, and a model built on a rank of the mesh holds exactly those shards (what
    /// MeshOptimizer and the checkpoint gathers then read from the store).
    func testSplitsEqualWhatTheMeshUses() throws {
        for (name, sizes) in [("tiny", [1, 2, 4]), ("gemma-2b", [1, 2, 4, 8]), ("gemma-7b", [1, 2, 4, 8, 16])] {
            let config = try preset(name)
            var small = config
            (small.vocabSize, small.hiddenSize, small.intermediateSize, small.headDim) = (41, 16, 32, 4)
            for m in sizes {
                for rank in 0..<m {
                    // What `DeviceMesh.modelSplit` builds: no layout on a model axis of one.
                    let tp = m == 1 ? nil : try TensorParallel(config: config, group: Rank(rank, of: m))
                    for p in GemmaParameter.all(config, head: .reward) {
                        let s = tp?.sharding(of: p) ?? .replicated(p.shape)
                        let (split, sums) = documentedSplit(p.name, kvHeads: config.numKeyValueHeads, ranks: m)
                        XCTAssertEqual(s.split, split, "\(name) \(p.name) rank \(rank) of \(m)")
                        XCTAssertEqual(s.sumsGradient, sums, "\(name) \(p.name) rank \(rank) of \(m)")
                        XCTAssertEqual(s.fullShape, p.shape)
                        if split != .replicated { XCTAssertEqual(s.part, rank); XCTAssertEqual(s.parts, m) }
                    }
                    let built = name == "tiny" ? config : small
                    let split = m == 1 ? nil : try TensorParallel(config: built, group: Rank(rank, of: m))
                    let model = GemmaModel(config: built, head: .reward, tensorParallel: split)
                    for (e, p) in zip(model.parameters.entries, model.parameterTable) {
                        XCTAssertEqual(e.sharding, split?.sharding(of: p) ?? .replicated(p.shape), "\(name) \(e.name) rank \(rank) of \(m)")
                        XCTAssertEqual(e.shape, e.sharding.localShape)
                    }
                }
            }
        }
    }

    /// LoRA targets are PEFT's seven module names for Gemma, one per projection, never a norm, the
    /// embedding or the reward head.
    func testLoRATargetsArePEFTModuleNames() {
        let targets = GemmaParameter.all(.tiny, head: .reward).filter { $0.layer == 0 }.compactMap(\.loraTarget)
        XCTAssertEqual(targets, ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
        for p in GemmaParameter.all(.tiny, head: .reward) {
            if let target = p.loraTarget {
                XCTAssertTrue(p.name.hasSuffix(".\(target).weight"), p.name)
            } else {
                XCTAssertTrue(p.name.hasSuffix("norm.weight") || p.name == "model.embed_tokens.weight" || p.name == "score.weight", p.name)
            }
        }
    }

    /// `initialize(seed:)` equals Hugging Face's scheme written out by hand over the HF names: one
    /// normal(0, initializer_range) stream over every tensor but the norms, in order, the padding row of
    /// the embedding zeroed, the norms zero; bit for bit, also for a model split over two ranks.
    func testInitialisationIsHuggingFaces() throws {
        var config = GemmaConfig.tiny
        config.padTokenId = 3
        let model = GemmaModel(config: config, head: .reward)
        model.initialize(seed: 42)
        var rng = RandomGenerator(seed: 42)
        var expected: [String: [Float]] = [:]
        for e in model.parameters.entries {
            var values = [Float](repeating: 0, count: e.count)
            if !e.name.hasSuffix("norm.weight") { for j in values.indices { values[j] = rng.nextNormal() * config.initializerRange } }
            if e.name == "model.embed_tokens.weight" { for j in 0..<config.hiddenSize { values[3 * config.hiddenSize + j] = 0 } }
            expected[e.name] = values
            XCTAssertEqual(model.parameters[e.name]!.scalars, values, e.name)
        }
        for rank in 0..<2 {
            let split = GemmaModel(config: config, head: .reward, tensorParallel: try TensorParallel(config: config, group: Rank(rank, of: 2)))
            split.initialize(seed: 42)
            for (i, e) in split.parameters.entries.enumerated() {
                var local = [Float](repeating: -1, count: e.count)
                expected[e.name]!.withUnsafeBufferPointer { full in
                    local.withUnsafeMutableBufferPointer { e.sharding.extract(from: full.baseAddress!, into: $0.baseAddress!) }
                }
                XCTAssertEqual(split.parameters.tensor(i).scalars, local, "\(e.name) rank \(rank)")
            }
        }
    }
}
