import Autograd
import NN
import XCTest
@testable import Gemma

/// `model.frozen_dtype: bf16`: a LoRA model whose frozen base is stored as bf16 computes exactly what a
/// Float32 LoRA model computes over the same base rounded to bf16 (loss, adapter gradients, merged
/// weights, generation), in half the base's bytes.
final class FrozenBFloat16Tests: XCTestCase {
    let (config, ids, targets) = (LoRAFixture.config, LoRAFixture.ids, LoRAFixture.targets)
    let lora = LoRA(rank: 3, alpha: 6, targets: LoRA.targetNames)

    /// A random base, rounded to bf16 values (so a Float32 copy holds exactly what a bf16 store does).
    func roundedBase() -> GemmaModel {
        var c = config
        c.initializerRange = 0.3
        let base = GemmaModel(config: c)
        base.initialize(seed: 5)
        let v = base.parameters.values
        for j in 0..<v.count { v.data[j] = BFloat16.float(BFloat16.bits(v.data[j])) }
        return base
    }

    /// A LoRA model over `base` with random A and B (seeded), its base stored as `frozen`.
    func adapted(_ base: GemmaModel, frozen: ParameterStore.FrozenDType) -> GemmaModel {
        let model = GemmaModel(config: base.config, lora: lora, frozen: frozen)
        XCTAssertEqual(model.copyParameters(from: base), [])
        model.initializeAdapters(seed: 11)
        let store = model.parameters
        for (i, e) in store.entries.enumerated() where e.name.hasSuffix(".lora_B.weight") {
            var rng = RandomGenerator(seed: 3)
            let full = (0..<e.sharding.fullShape.reduce(1, *)).map { _ in 0.5 * rng.nextNormal() }
            full.withUnsafeBufferPointer { e.sharding.extract(from: $0.baseAddress!, into: store.tensor(i).data) }
        }
        return model
    }

    /// Loss and adapter gradients of `model` on the fixed batch.
    func lossAndGradients(_ model: GemmaModel) -> (Float, [Float]) {
        model.parameters.zeroGradients()
        let loss = model.loss(ids: ids, targets: targets, batch: 2).loss
        loss.backward()
        return (loss.item, model.parameters.gradients.scalars)
    }

    func testSameLossAndGradientsAsAFloat32Base() {
        let base = roundedBase()
        let (f32, bf16) = (adapted(base, frozen: .float32), adapted(base, frozen: .bfloat16))
        let (a, b) = (lossAndGradients(f32), lossAndGradients(bf16))
        XCTAssertEqual(a.0, b.0)
        XCTAssertEqual(a.1, b.1)
        XCTAssertEqual(bf16.baseChecksum(), f32.baseChecksum())
        bf16.recomputesBlocks = true  // recomputed blocks widen the weights again
        let c = lossAndGradients(bf16)
        XCTAssertEqual(c.0, a.0)
        XCTAssertEqual(c.1, a.1)
        // Memory: the frozen base takes 2 bytes per element, and values hold only the adapters.
        let baseCount = bf16.parameterTable.map(\.count).reduce(0, +)
        XCTAssertEqual(bf16.parameters.values.count, bf16.parameters.trainable.count)
        XCTAssertEqual(bf16.parameters.valueBytes, 2 * baseCount + 4 * bf16.parameters.trainable.count)
        XCTAssertEqual(f32.parameters.valueBytes, 4 * (baseCount + f32.parameters.trainable.count))
        // Merged weights widen the base and add the adapters: the same as from the Float32 base.
        XCTAssertEqual(bf16.merged().parameters.values.scalars, f32.merged().parameters.values.scalars)
        // Generation reads the same weights.
        let cacheA = KVCache(model: f32, capacity: 16), cacheB = KVCache(model: bf16, capacity: 16)
        XCTAssertEqual(f32.step(ids, cache: cacheA), bf16.step(ids, cache: cacheB))
    }

    /// The base rounds to nearest even when it is stored: a Float32 base loaded into a bf16 store
    /// holds what rounding its values gives.
    func testStoringRoundsToNearestEven() {
        var c = config
        c.initializerRange = 0.3
        let base = GemmaModel(config: c)
        base.initialize(seed: 9)
        let model = GemmaModel(config: c, lora: lora, frozen: .bfloat16)
        model.copyParameters(from: base)
        for i in 0..<model.parameterTable.count {
            let e = model.parameters.entries[i]
            XCTAssertTrue(e.isBFloat16)
            let expected = UnsafeBufferPointer(start: base.parameters.tensor(i).data, count: e.count).map { BFloat16.float(BFloat16.bits($0)) }
            model.parameters.withValues(i) { XCTAssertEqual(Array(UnsafeBufferPointer(start: $0, count: e.count)), expected, e.name) }
        }
    }
}
