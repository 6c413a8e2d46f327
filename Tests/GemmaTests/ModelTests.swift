import Autograd
import XCTest
@testable import Gemma

final class ModelTests: XCTestCase {
    /// A tiny GQA config whose query width (heads x head_dim = 16) differs from hidden (10).
    let config = GemmaConfig(vocabSize: 23, hiddenSize: 10, intermediateSize: 14, numHiddenLayers: 2,
                             numAttentionHeads: 4, numKeyValueHeads: 2, headDim: 4, maxPositionEmbeddings: 32)

    func randomModel(std: Float = 0.3, seed: UInt64 = 5) -> GemmaModel {
        var c = config
        c.initializerRange = std
        let model = GemmaModel(config: c)
        model.initialize(seed: seed)
        // Norm offsets are 0 after HF init; make them non-zero so the (1 + w) scale is exercised.
        for (i, e) in model.parameters.entries.enumerated() where e.name.hasSuffix("norm.weight") {
            for j in 0..<e.count { model.parameters.tensor(i).data[j] = 0.1 * Float(j % 5) - 0.2 }
        }
        return model
    }

    /// The whole model's loss gradient against central finite differences on a sample of parameters
    /// from every tensor (eps 1e-2; |err| <= 2e-3 + 2e-2 |numeric|: a deep Float32 composition).
    func testLossGradientMatchesFiniteDifferences() {
        let model = randomModel()
        // Id 0 (the zeroed padding row) is only a target: RMSNorm of an all-zero input is too sharp for
        // finite differences at this step size.
        let ids: [Int32] = [2, 5, 7, 1, 9, 22, 3, 4, 13, 11]
        let targets: [Int32] = [5, 7, 1, -100, 22, 3, 4, 0, 11, 6]
        func loss() -> Double { Double(withNoGrad { model.loss(ids: ids, targets: targets, batch: 2).loss.item }) }
        model.parameters.zeroGradients()
        model.loss(ids: ids, targets: targets, batch: 2).loss.backward()
        let grads = model.parameters.gradients.copy()
        checkGradients(model.parameters, model.parameters.entries, analytic: { grads.data[$0] }, loss: loss)
    }

    /// Generation's incremental path (KV cache, one token per step after a prompt) gives the logits of
    /// the full causal forward at every position.
    func testCachedStepsMatchFullForward() {
        let model = randomModel()
        let ids: [Int32] = [2, 8, 3, 19, 4, 4, 10, 1, 7]
        let full = withNoGrad { model.logits(ids: ids, batch: 1) }  // [9, V]
        let cache = KVCache(config: model.config)
        var stepLogits = [model.step(Array(ids[0..<4]), cache: cache)]  // prompt of 4, then single tokens
        for t in 4..<ids.count { stepLogits.append(model.step([ids[t]], cache: cache)) }
        let v = model.config.vocabSize
        for (n, logits) in stepLogits.enumerated() {
            let t = n == 0 ? 3 : 3 + n
            let want = Array(full.scalars[(t * v)..<((t + 1) * v)])
            for j in 0..<v { XCTAssertEqual(logits[j], want[j], accuracy: 1e-4, "position \(t) token \(j)") }
        }
        XCTAssertEqual(cache.length, ids.count)
    }

    func testSamplerGreedyTopKTopPAndSeed() {
        let logits: [Float] = [0.1, 3, 2.9, -1, 2.95]
        var greedy = Sampler(SamplingOptions(temperature: 0))
        XCTAssertEqual(greedy.next(logits), 1)
        var topOne = Sampler(SamplingOptions(temperature: 1, topK: 1, seed: 3))
        XCTAssertEqual((0..<20).map { _ in topOne.next(logits) }, [Int32](repeating: 1, count: 20))
        var nucleus = Sampler(SamplingOptions(temperature: 1, topP: 0.5, seed: 4))
        let picks = Set((0..<200).map { _ in nucleus.next(logits) })
        XCTAssertTrue(picks.isSubset(of: [1, 4]), "top-p 0.5 keeps the two most likely tokens, got \(picks)")
        var a = Sampler(SamplingOptions(temperature: 1, seed: 9)), b = Sampler(SamplingOptions(temperature: 1, seed: 9))
        XCTAssertEqual((0..<50).map { _ in a.next(logits) }, (0..<50).map { _ in b.next(logits) })
    }

    func testGeneratorStopsAtStopTokenAndKeepsConversation() throws {
        let model = randomModel()
        let probe = Generator(model: model, options: SamplingOptions(temperature: 0), stopTokens: [])
        let free = try probe.generate(prompt: [2, 5], maxTokens: 6)
        XCTAssertEqual(free.count, 6)
        // Stopping on the third greedy token returns the two before it.
        let gen = Generator(model: model, options: SamplingOptions(temperature: 0), stopTokens: [free[2]])
        let stopped = try gen.generate(prompt: [2, 5], maxTokens: 6)
        XCTAssertEqual(stopped, Array(free.prefix(while: { $0 != free[2] })))
        XCTAssertEqual(gen.cache.length, 2 + stopped.count + 1)
        XCTAssertThrowsError(try gen.generate(prompt: [Int32](repeating: 3, count: 40), maxTokens: 1))
    }
}
