import Autograd
import NN
import XCTest
@testable import Gemma

/// LoRA on the model: the adapters' gradients against finite differences, a frozen base, PEFT's
/// initialisation (B = 0 gives the base's logits bit for bit) and the merged model.
final class LoRATests: XCTestCase {
    let (config, ids, targets) = (LoRAFixture.config, LoRAFixture.ids, LoRAFixture.targets)

    /// A random base (std 0.3) and a LoRA model of rank 3 on `targets` over the same weights, its
    /// adapters initialised from `seed`; with `randomB` B is random too (else PEFT's zero).
    func models(targets: [String] = LoRA.targetNames, randomB: Bool) -> (base: GemmaModel, adapted: GemmaModel) {
        var c = config
        c.initializerRange = 0.3
        let base = GemmaModel(config: c)
        base.initialize(seed: 5)
        let adapted = GemmaModel(config: c, lora: LoRA(rank: 3, alpha: 6, targets: targets))
        XCTAssertEqual(adapted.copyParameters(from: base), [])
        adapted.initializeAdapters(seed: 11)
        if randomB {
            var rng = RandomGenerator(seed: 3)
            for (i, e) in adapted.parameters.entries.enumerated() where e.name.hasSuffix(".lora_B.weight") {
                for j in 0..<e.count { adapted.parameters.tensor(i).data[j] = 0.5 * rng.nextNormal() }
            }
        }
        return (base, adapted)
    }

    /// The loss gradient of every adapter against central finite differences (a sample of elements of
    /// every A and B; eps 1e-2, |err| <= 2e-3 + 2e-2 |numeric| as for the whole model), and no gradient
    /// memory or gradient for the frozen base.
    func testAdapterGradientsMatchFiniteDifferences() {
        let model = models(randomB: true).adapted
        let store = model.parameters
        XCTAssertEqual(store.trainable.lowerBound, model.parameterTable.map(\.count).reduce(0, +))
        XCTAssertEqual(store.gradients.count, store.trainable.count)
        XCTAssertEqual(store.entries.filter(\.trainable).count, 2 * 7 * config.numHiddenLayers)
        func loss() -> Double { Double(withNoGrad { model.loss(ids: ids, targets: targets, batch: 2).loss.item }) }
        store.zeroGradients()
        model.loss(ids: ids, targets: targets, batch: 2).loss.backward()
        let grads = store.gradients.copy()
        for e in store.entries { XCTAssertEqual(store[e.name]!.requiresGrad, e.trainable, e.name) }
        checkGradients(store, store.entries.filter(\.trainable), analytic: { grads.data[$0 - store.trainable.lowerBound] }, loss: loss)
    }

    /// PEFT's initialisation: A uniform within ±1/sqrt(in), B zero, so the adapted model's logits are
    /// the base's bit for bit; only the named targets get adapters.
    func testInitialAdaptersLeaveTheBaseLogits() {
        let (base, adapted) = models(targets: ["q_proj", "down_proj"], randomB: false)
        XCTAssertEqual(adapted.parameters.entries.dropFirst(adapted.parameterTable.count).map(\.name),
                       ["model.layers.0.self_attn.q_proj.lora_A.weight", "model.layers.0.self_attn.q_proj.lora_B.weight",
                        "model.layers.0.mlp.down_proj.lora_A.weight", "model.layers.0.mlp.down_proj.lora_B.weight",
                        "model.layers.1.self_attn.q_proj.lora_A.weight", "model.layers.1.self_attn.q_proj.lora_B.weight",
                        "model.layers.1.mlp.down_proj.lora_A.weight", "model.layers.1.mlp.down_proj.lora_B.weight"])
        for e in adapted.parameters.entries where e.name.contains(".lora_") {
            let values = Array(UnsafeBufferPointer(start: adapted.parameters[e.name]!.data, count: e.count))
            if e.name.hasSuffix("lora_A.weight") {
                let bound = 1 / Float(e.shape[1]).squareRoot()
                XCTAssertTrue(values.allSatisfy { abs($0) <= bound } && values.contains { $0 != 0 }, e.name)
            } else {
                XCTAssertTrue(values.allSatisfy { $0 == 0 }, e.name)
            }
        }
        let expected = withNoGrad { base.logits(ids: ids, batch: 2) }
        let got = withNoGrad { adapted.logits(ids: ids, batch: 2) }
        XCTAssertEqual(got.scalars, expected.scalars)
        XCTAssertEqual(adapted.baseChecksum(), base.baseChecksum())
    }

    /// With random adapters switched off (an RL reference) the model gives the base's logits bit for
    /// bit, and after the block the adapters are back.
    func testWithoutAdaptersIsTheBase() {
        let (base, adapted) = models(randomB: true)
        let expected = withNoGrad { base.logits(ids: ids, batch: 2) }.scalars
        let adaptedLogits = withNoGrad { adapted.logits(ids: ids, batch: 2) }.scalars
        XCTAssertEqual(withNoGrad { adapted.withoutAdapters { adapted.logits(ids: ids, batch: 2) } }.scalars, expected)
        XCTAssertNotEqual(adaptedLogits, expected)
        XCTAssertEqual(withNoGrad { adapted.logits(ids: ids, batch: 2) }.scalars, adaptedLogits)
    }

    /// The merged model (`W + (alpha/r)·B·A`, no adapters) gives the adapted model's logits (1e-5), and
    /// differs from the base.
    func testMergedModelMatchesTheAdaptedModel() {
        let (base, adapted) = models(randomB: true)
        let merged = adapted.merged()
        XCTAssertNil(merged.lora)
        XCTAssertEqual(merged.parameters.count, base.parameters.count)
        let expected = withNoGrad { adapted.logits(ids: ids, batch: 2) }.scalars
        let got = withNoGrad { merged.logits(ids: ids, batch: 2) }.scalars
        for (g, e) in zip(got, expected) { XCTAssertEqual(g, e, accuracy: 1e-5) }
        XCTAssertNotEqual(got, withNoGrad { base.logits(ids: ids, batch: 2) }.scalars)
        XCTAssertNotEqual(merged.baseChecksum(), base.baseChecksum())
    }

    /// With activation recomputation (`train.recompute: block`) the adapters' gradients are bitwise the
    /// same: the recomputed block reads them as parameters.
    func testRecomputedBlocksGiveTheSameAdapterGradients() {
        let model = models(randomB: true).adapted
        func gradients() -> [UInt32] {
            model.parameters.zeroGradients()
            model.loss(ids: ids, targets: targets, batch: 2).loss.backward()
            return model.parameters.gradients.scalars.map(\.bitPattern)
        }
        let direct = gradients()
        model.recomputesBlocks = true
        XCTAssertEqual(gradients(), direct)
        XCTAssertTrue(direct.contains { $0 != 0 })
    }

    /// Dropout on the adapters' input: only while gradients are recorded (the logits without recording
    /// are the model's), it changes the gradients, a recomputed block replays its masks (same gradients
    /// bit for bit), and restarting the stream redraws the same masks.
    func testDropoutMasksAreTrainingOnlyAndReplayable() {
        let model = models(randomB: true).adapted
        let plain = withNoGrad { model.logits(ids: ids, batch: 2) }.scalars
        func gradients(stream: UInt64) -> [UInt32] {
            model.loraDropout?.start(stream: stream)
            model.parameters.zeroGradients()
            model.loss(ids: ids, targets: targets, batch: 2).loss.backward()
            return model.parameters.gradients.scalars.map(\.bitPattern)
        }
        let without = gradients(stream: 0)
        model.loraDropout = LoRADropout(probability: 0.3, seed: 1)
        XCTAssertEqual(withNoGrad { model.logits(ids: ids, batch: 2) }.scalars, plain)
        let first = gradients(stream: 7)
        XCTAssertNotEqual(first, without)
        XCTAssertEqual(gradients(stream: 7), first)
        XCTAssertNotEqual(gradients(stream: 8), first)
        model.recomputesBlocks = true
        XCTAssertEqual(gradients(stream: 7), first)
    }

    /// A reward model keeps `score.weight` trainable (the one trainable tensor of the table, right before
    /// the adapters) and its merged model keeps the head.
    func testRewardHeadStaysTrainable() {
        let model = GemmaModel(config: config, head: .reward, lora: LoRA(rank: 2, alpha: 4, targets: ["v_proj"]))
        let trainable = model.parameters.entries.filter(\.trainable).map(\.name)
        XCTAssertEqual(trainable, ["score.weight"] + (0..<2).flatMap { i in
            ["model.layers.\(i).self_attn.v_proj.lora_A.weight", "model.layers.\(i).self_attn.v_proj.lora_B.weight"]
        })
        XCTAssertEqual(model.merged().head, .reward)
    }
}

/// The model and batch the LoRA tests share: the GQA config of ModelTests (query width 16, hidden 10)
/// and two rows of five tokens with one ignored target.
enum LoRAFixture {
    static let config = GemmaConfig(vocabSize: 23, hiddenSize: 10, intermediateSize: 14, numHiddenLayers: 2,
                                    numAttentionHeads: 4, numKeyValueHeads: 2, headDim: 4, maxPositionEmbeddings: 32)
    static let ids: [Int32] = [2, 5, 7, 1, 9, 22, 3, 4, 13, 11]
    static let targets: [Int32] = [5, 7, 1, -100, 22, 3, 4, 0, 11, 6]
}
