import Autograd
import Datasets
import Gemma
import NN
import XCTest
@testable import Training

/// Gradient accumulation: one micro-batch of 8 rows and four micro-batches of 2 give the same loss and
/// gradients (the loss is normalised by the tokens of the whole step, not averaged per micro-batch).
final class AccumulationTests: XCTestCase {
    func testOneByEightEqualsFourByTwo() {
        let config = GemmaConfig(vocabSize: 40, hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 2,
                                 numAttentionHeads: 2, numKeyValueHeads: 1, headDim: 8, maxPositionEmbeddings: 16)
        let model = GemmaModel(config: config)
        model.initialize(seed: 4)
        // Rows with different numbers of predicted tokens, so a mean of means would differ.
        var rng = RandomGenerator(seed: 9)
        let rows: [PackedRow] = (0..<8).map { r in
            let ids = (0..<12).map { _ in Int32(3 + rng.next() % 37) }
            let targets = (0..<12).map { t in t < 2 + r ? ids[(t + 1) % 12] : -100 }
            return PackedRow(ids: ids, targets: targets, positions: (0..<12).map(Int32.init), documents: [Int32](repeating: 0, count: 12))
        }
        func batches(_ size: Int) -> [Batch] {
            stride(from: 0, to: 8, by: size).map { Batch(rows[$0..<($0 + size)], time: 12) }
        }
        let total = batches(8)[0].tokenCount
        model.parameters.zeroGradients()
        let one = LanguageModelObjective.accumulate(model, batches(8), globalTokens: total)
        let gradOne = model.parameters.gradients.copy()
        model.parameters.zeroGradients()
        let four = LanguageModelObjective.accumulate(model, batches(2), globalTokens: total)
        XCTAssertEqual(one, four, accuracy: 1e-6)
        var worst: Float = 0
        for i in 0..<model.parameters.count {
            worst = max(worst, abs(gradOne.data[i] - model.parameters.gradients.data[i]))
        }
        XCTAssertLessThan(worst, 1e-6)
        XCTAssertGreaterThan(model.parameters.gradients.sumOfSquares(), 0)
    }
}
