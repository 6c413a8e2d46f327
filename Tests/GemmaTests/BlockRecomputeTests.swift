import Autograd
import Foundation
import NN
import XCTest
@testable import Gemma

/// `recomputesBlocks` (`train.recompute: block`): the model's losses and every parameter gradient are
/// bit for bit those of the model that keeps its activations, whole and split over two ranks.
final class BlockRecomputeTests: XCTestCase {
    let config = GemmaConfig(vocabSize: 61, hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 3,
                             numAttentionHeads: 4, numKeyValueHeads: 2, headDim: 8, maxPositionEmbeddings: 32)

    /// The loss and all gradients (by parameter, as bit patterns) of `model` on two packed rows of 7
    /// tokens (positions restarting, two documents in a row), accumulated over two micro-batches.
    @Sendable static func lossAndGradients(_ model: GemmaModel) -> (losses: [UInt32], grads: [[UInt32]]) {
        let (batch, time, v) = (2, 7, model.config.vocabSize)
        let ids: [Int32] = (0..<(batch * time)).map { Int32(($0 * 11 + 5) % v) }
        let targets: [Int32] = ids.indices.map { $0 % 5 == 4 ? -100 : Int32(($0 * 3 + 1) % v) }
        let positions: [Int32] = [0, 1, 2, 0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6]
        let documents: [Int32] = [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2]
        var losses: [UInt32] = []
        for micro in 0..<2 {
            let shifted = ids.map { ($0 + Int32(micro)) % Int32(v) }
            let loss: Tensor
            if model.head == .reward {
                loss = model.rewardLoss(ids: shifted, pairs: 1, lastTokens: [5, 12], margin: 0, centerCoef: 0.01).loss
            } else {
                loss = model.loss(ids: shifted, targets: targets, batch: batch, positions: positions, documents: documents,
                                  normalizer: 20).loss
            }
            loss.backward()
            losses.append(loss.item.bitPattern)
        }
        return (losses, model.parameters.entries.indices.map { model.parameters.tensor($0).grad!.scalars.map(\.bitPattern) })
    }

    func model(_ head: GemmaModel.Head = .causalLM, recompute: Bool, tensorParallel: TensorParallel? = nil) -> GemmaModel {
        let model = GemmaModel(config: config, head: head, tensorParallel: tensorParallel)
        model.initialize(seed: 5)
        model.recomputesBlocks = recompute
        return model
    }

    func testSameLossesAndGradientsOnOneProcess() {
        for head in [GemmaModel.Head.causalLM, .reward] {
            let kept = Self.lossAndGradients(model(head, recompute: false))
            let recomputed = Self.lossAndGradients(model(head, recompute: true))
            XCTAssertEqual(recomputed.losses, kept.losses, "\(head)")
            let names = model(head, recompute: false).parameters.entries.map(\.name)
            for (name, (a, b)) in zip(names, zip(kept.grads, recomputed.grads)) { XCTAssertEqual(b, a, "\(head) \(name)") }
        }
    }

    /// On each of two ranks (threads sharing an in-memory group), with kv heads split (KV 2, M 2) and
    /// shared (KV 1, M 2): recomputation replays the block's all-reduces in backward, and every rank's
    /// losses and gradient shards equal its own without recomputation.
    func testSameLossesAndGradientsOnTwoRanks() {
        for kvHeads in [2, 1] {
            let config = { var c = self.config; c.numKeyValueHeads = kvHeads; return c }()
            let group = TensorParallelTests.ThreadGroup(size: 2)
            let results = TensorParallelTests.onThreads(2) { rank in
                let tp = try! TensorParallel(config: config, group: TensorParallelTests.Member(rank: rank, group: group))
                return [false, true].map { recompute in
                    let model = GemmaModel(config: config, tensorParallel: tp)
                    model.initialize(seed: 5)
                    model.recomputesBlocks = recompute
                    return Self.lossAndGradients(model)
                }
            }
            for (rank, pair) in results.enumerated() {
                XCTAssertEqual(pair[1].losses, pair[0].losses, "KV \(kvHeads) rank \(rank)")
                XCTAssertEqual(pair[1].grads, pair[0].grads, "KV \(kvHeads) rank \(rank)")
            }
        }
    }
}
