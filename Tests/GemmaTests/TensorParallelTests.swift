import Autograd
import Foundation
import NN
import XCTest
@testable import Gemma

/// Tensor parallelism without MPI: `M` ranks are `M` threads of this process whose ``ShardGroup``
/// reduces through shared memory. Each rank's loss must equal the whole model's, and its gradients,
/// put back together (kv gradients summed where ranks share kv heads), the whole model's gradients.
final class TensorParallelTests: XCTestCase {
    /// M threads meeting at a reusable barrier; `reduce` combines every rank's buffer in rank order.
    final class ThreadGroup: @unchecked Sendable {
        let size: Int
        private let condition = NSCondition()
        private var arrived = 0, generation = 0
        private var slots: [UnsafeMutableBufferPointer<Float>?]

        init(size: Int) {
            self.size = size
            slots = Array(repeating: nil, count: size)
        }

        func barrier() {
            condition.lock()
            let mine = generation
            arrived += 1
            if arrived == size {
                arrived = 0
                generation += 1
                condition.broadcast()
            } else {
                while generation == mine { condition.wait() }
            }
            condition.unlock()
        }

        func reduce(rank: Int, _ buffer: UnsafeMutableBufferPointer<Float>, _ combine: (Float, Float) -> Float) {
            condition.lock(); slots[rank] = buffer; condition.unlock()
            barrier()
            var result = Array(slots[0]!)
            for r in 1..<size {
                for i in result.indices { result[i] = combine(result[i], slots[r]![i]) }
            }
            barrier()  // everyone has read every buffer
            for i in result.indices { buffer[i] = result[i] }
        }
    }

    final class Member: ShardGroup {
        let rank: Int
        let group: ThreadGroup
        init(rank: Int, group: ThreadGroup) { self.rank = rank; self.group = group }
        var size: Int { group.size }
        func sum(_ buffer: UnsafeMutableBufferPointer<Float>) { group.reduce(rank: rank, buffer, +) }
        func max(_ buffer: UnsafeMutableBufferPointer<Float>) { group.reduce(rank: rank, buffer, Swift.max) }
    }

    /// Runs `body(rank)` on `m` threads at once and returns their results in rank order.
    static func onThreads<R>(_ m: Int, _ body: @escaping @Sendable (Int) -> R) -> [R] {
        let results = UnsafeMutableBufferPointer<R?>.allocate(capacity: m)
        results.initialize(repeating: nil)
        defer { results.deallocate() }
        let box = UncheckedBox(results)
        let done = DispatchGroup()
        for rank in 0..<m {
            done.enter()
            Thread { box.value[rank] = body(rank); done.leave() }.start()
        }
        done.wait()
        return results.map { $0! }
    }

    struct UncheckedBox<T>: @unchecked Sendable { let value: T; init(_ v: T) { value = v } }

    /// Loss and full gradients (by name) of `config` split over `m` ranks, checked against one rank; with
    /// `lora`, of the adapters (B random, the same full values on every rank) over the frozen weights.
    /// With `dropout`, every model drops the same elements of the full inputs (stream 1).
    func check(_ config: GemmaConfig, ranks m: Int, head: GemmaModel.Head = .causalLM, lora: LoRA? = nil, dropout: Float = 0,
               file: StaticString = #filePath, line: UInt = #line) {
        let (batch, time) = (2, 6)
        let ids: [Int32] = (0..<(batch * time)).map { Int32(($0 * 7 + 3) % config.vocabSize) }
        var labels: [Int32] = ids.indices.map { Int32(($0 * 5 + 1) % config.vocabSize) }
        labels[4] = ignoreIndex
        labels[9] = Int32(config.vocabSize - 1)  // the last id: on the last shard, next to the padding
        let targets = labels
        @Sendable func lossOf(_ model: GemmaModel) -> Tensor {
            if head == .reward {
                return model.rewardLoss(ids: ids, pairs: 1, lastTokens: [5, 11], margin: 0, centerCoef: 0.1).loss
            }
            return model.loss(ids: ids, targets: targets, batch: batch).loss
        }
        @Sendable func initialize(_ model: GemmaModel) {
            model.initialize(seed: 11)
            model.initializeAdapters(seed: 12)
            var rng = RandomGenerator(seed: 13)
            for (i, e) in model.parameters.entries.enumerated() where e.name.hasSuffix(".lora_B.weight") {
                let full = (0..<e.sharding.fullShape.reduce(1, *)).map { _ in 0.3 * rng.nextNormal() }
                full.withUnsafeBufferPointer { e.sharding.extract(from: $0.baseAddress!, into: model.parameters.tensor(i).data) }
            }
            if dropout > 0 {
                model.loraDropout = LoRADropout(probability: dropout, seed: 5)
                model.loraDropout!.start(stream: 1)
            }
        }
        let whole = GemmaModel(config: config, head: head, lora: lora)
        initialize(whole)
        let wholeLoss = lossOf(whole)
        wholeLoss.backward()

        let group = ThreadGroup(size: m)
        let results = Self.onThreads(m) { rank -> (loss: Float, grads: [String: [Float]], model: GemmaModel) in
            let tp = try! TensorParallel(config: config, group: Member(rank: rank, group: group))
            let model = GemmaModel(config: config, head: head, tensorParallel: tp, lora: lora)
            initialize(model)
            let loss = lossOf(model)
            loss.backward()
            var grads: [String: [Float]] = [:]
            for (i, e) in model.parameters.entries.enumerated() where e.trainable { grads[e.name] = model.parameters.tensor(i).grad!.scalars }
            return (loss.item, grads, model)
        }
        for r in results { XCTAssertEqual(r.loss, wholeLoss.item, accuracy: 1e-5 * abs(wholeLoss.item), "loss", file: file, line: line) }
        for (i, e) in results[0].model.parameters.entries.enumerated() where e.trainable {
            let expected = whole.parameters[e.name]!.grad!.scalars
            var full = [Float](repeating: 0, count: expected.count)
            for (rank, r) in results.enumerated() {
                let s = r.model.parameters.entries[i].sharding
                let shard = r.grads[e.name]!
                if s.sumsGradient {
                    for j in full.indices { full[j] += shard[j] }
                } else {
                    shard.withUnsafeBufferPointer { sh in full.withUnsafeMutableBufferPointer { s.place(shard: sh.baseAddress!, of: rank, into: $0.baseAddress!) } }
                }
            }
            let scale = expected.map(abs).max()! + 1e-6
            let error = zip(full, expected).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(error, 1e-4 * scale, "\(e.name) (\(s(e)))", file: file, line: line)
        }
    }

    func s(_ e: ParameterStore.Entry) -> String { "\(e.sharding.split), \(e.shape) of \(e.sharding.fullShape)" }

    let base = GemmaConfig(vocabSize: 50, hiddenSize: 12, intermediateSize: 16, numHiddenLayers: 2,
                           numAttentionHeads: 4, numKeyValueHeads: 2, headDim: 4, maxPositionEmbeddings: 32)

    func testKVHeadsSplit() { check(base, ranks: 2) }

    func testKVHeadsSharedAndVocabularyPadded() {
        check(base, ranks: 4)  // KV 2 < M 4: pairs of ranks share a kv head; 50 ids padded to 52
        var mqa = base
        mqa.numKeyValueHeads = 1
        check(mqa, ranks: 2)
    }

    func testMultiHeadAndRewardModel() {
        var mha = base
        mha.numKeyValueHeads = 4
        check(mha, ranks: 2)
        check(base, ranks: 2, head: .reward)
    }

    /// LoRA adapters split as their weights: kv heads split (KV 2, M 2), shared (KV 2, M 4), and a reward
    /// model whose score head trains with them.
    func testLoRAAdaptersSplitAsTheirWeights() {
        let lora = LoRA(rank: 3, alpha: 6, targets: LoRA.targetNames)
        check(base, ranks: 2, lora: lora)
        check(base, ranks: 4, lora: lora)
        check(base, ranks: 2, head: .reward, lora: LoRA(rank: 2, alpha: 2, targets: ["k_proj", "o_proj", "up_proj"]))
        // Dropout masks agree over the ranks: on replicated inputs and on the split inputs of o and down.
        check(base, ranks: 2, lora: lora, dropout: 0.25)
        check(base, ranks: 4, lora: lora, dropout: 0.25)
    }

    func testHeadsThatDoNotDivideNameTheKey() {
        XCTAssertThrowsError(try TensorParallel(config: base, group: Member(rank: 0, group: ThreadGroup(size: 3)))) {
            XCTAssertTrue("\($0)".contains("num_attention_heads (4) is not a multiple of mesh.model (3)"), "\($0)")
        }
    }
}

extension TensorParallelTests {
    /// The memory report's claim: with model=2 a rank holds at most 0.55 of the bench model's
    /// parameters (embedding included).
    func testModelAxisOfTwoHalvesTheBenchModel() throws {
        let bench = GemmaConfig.presets["bench"]!
        let whole = GemmaModel(config: bench).parameters.count
        let group = ThreadGroup(size: 2)
        for rank in 0..<2 {
            let tp = try TensorParallel(config: bench, group: Member(rank: rank, group: group))
            let shard = GemmaModel(config: bench, tensorParallel: tp).parameters.count
            XCTAssertLessThanOrEqual(Double(shard), 0.55 * Double(whole), "rank \(rank): \(shard) of \(whole)")
        }
    }
}

extension TensorParallelTests {
    /// Gemma's own shapes split as Docs/Distributed.md says: 7B (16 heads, 16 kv heads) over 2-16 ranks
    /// with kv heads split; 2B (8 heads, 1 kv head) over 2-8 with the kv head shared; 2B over 16 is an
    /// error naming the heads.
    func testGemmaPresetsSplitOverTheModelAxis() throws {
        let (b2, b7) = (GemmaConfig.presets["gemma-2b"]!, GemmaConfig.presets["gemma-7b"]!)
        for m in [2, 4, 8, 16] {
            let tp = try TensorParallel(config: b7, group: Member(rank: m - 1, group: ThreadGroup(size: m)))
            XCTAssertEqual(tp.heads, 16 / m)
            XCTAssertFalse(tp.sharesKV)
            XCTAssertEqual(tp.vocab.validRows, 256_000 / m)
        }
        for m in [2, 4, 8] {
            let tp = try TensorParallel(config: b2, group: Member(rank: m - 1, group: ThreadGroup(size: m)))
            XCTAssertEqual(tp.heads, 8 / m)
            XCTAssertTrue(tp.sharesKV)
            XCTAssertEqual(tp.kvHead, 0)
        }
        XCTAssertThrowsError(try TensorParallel(config: b2, group: Member(rank: 0, group: ThreadGroup(size: 16)))) {
            XCTAssertTrue("\($0)".contains("num_attention_heads (8) is not a multiple of mesh.model (16)"), "\($0)")
        }
    }
}
