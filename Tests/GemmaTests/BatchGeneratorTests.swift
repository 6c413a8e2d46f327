import Autograd
import XCTest
@testable import Gemma

/// Batched sampling against one prompt at a time with the KV cache (`Generator`).
final class BatchGeneratorTests: XCTestCase {
    func model() -> GemmaModel {
        var c = GemmaConfig(vocabSize: 29, hiddenSize: 12, intermediateSize: 20, numHiddenLayers: 2,
                            numAttentionHeads: 4, numKeyValueHeads: 2, headDim: 4, maxPositionEmbeddings: 40)
        c.initializerRange = 0.4
        let m = GemmaModel(config: c)
        m.initialize(seed: 8)
        return m
    }

    let prompts: [[Int32]] = [[2, 5, 7], [2, 11], [2, 3, 4, 5, 6, 7, 8], [2, 9, 9, 9]]

    /// Greedy: every reply equals the one-at-a-time reply (prompts of different lengths, one sequence
    /// stopping early at a stop token, the others running to the limit), and the logits of a decode step
    /// equal the single-sequence step's within 1e-5.
    func testGreedyRepliesEqualOneAtATime() throws {
        let m = model()
        let single = try prompts.map { try Generator(model: m, options: SamplingOptions(temperature: 0), stopTokens: []).generate(prompt: $0, maxTokens: 9) }
        let stop = single[1][3]  // the second prompt stops at its fourth token
        let expected = try prompts.map {
            try Generator(model: m, options: SamplingOptions(temperature: 0), stopTokens: [stop]).generate(prompt: $0, maxTokens: 9)
        }
        let batched = try BatchGenerator.generate(m, prompts: prompts, options: prompts.map { _ in SamplingOptions(temperature: 0) },
                                                  stopTokens: [stop], maxTokens: 9)
        XCTAssertEqual(batched, expected)
        XCTAssertLessThan(batched[1].count, 9)

        let caches = prompts.map { _ in KVCache(config: m.config) }
        let first = zip(prompts, caches).map { m.step($0.0, cache: $0.1) }
        let ids = first.map { logits in Int32(logits.indices.max { logits[$0] < logits[$1] }!) }
        let references = zip(prompts, ids).map { prompt, id -> [Float] in
            let cache = KVCache(config: m.config)
            _ = m.step(prompt, cache: cache)
            return m.step([id], cache: cache)
        }
        let logits = BatchGenerator.decodeStep(m, ids: ids, caches: caches)
        for (r, reference) in references.enumerated() {
            for j in 0..<m.config.vocabSize {
                XCTAssertEqual(logits[r * m.config.vocabSize + j], reference[j], accuracy: 1e-5, "row \(r) token \(j)")
            }
        }
    }

    /// Sampling: each sequence's reply depends on its own seed, not on the others in the batch.
    func testSeededRepliesDoNotDependOnTheBatch() throws {
        let m = model()
        let options = (0..<prompts.count).map { SamplingOptions(temperature: 1, seed: UInt64(100 + $0), vocabularyLimit: 29) }
        let all = try BatchGenerator.generate(m, prompts: prompts, options: options, stopTokens: [], maxTokens: 8)
        let alone = try BatchGenerator.generate(m, prompts: [prompts[2]], options: [options[2]], stopTokens: [], maxTokens: 8)
        XCTAssertEqual(all[2], alone[0])
        XCTAssertEqual(all, try BatchGenerator.generate(m, prompts: prompts, options: options, stopTokens: [], maxTokens: 8))
        XCTAssertThrowsError(try BatchGenerator.generate(m, prompts: [[Int32](repeating: 3, count: 40)], options: [options[0]],
                                                         stopTokens: [], maxTokens: 1))
    }
}
