import Foundation
import Gemma
import NN
import XCTest
@testable import Training

/// A small training checkpoint to write and read back: a 2-layer model's parameter names and shapes,
/// distinct values for every tensor of every group, and a state whose fields all differ.
struct CheckpointFixture {
    static let config = GemmaConfig(vocabSize: 31, hiddenSize: 8, intermediateSize: 12, numHiddenLayers: 2,
                                    numAttentionHeads: 2, numKeyValueHeads: 1, headDim: 4, maxPositionEmbeddings: 16)
    static let tokenizer: [UInt8] = Array("a SentencePiece model, in spirit".utf8) + [0, 255, 7]

    /// `(name, shape)` of every parameter, in the model's order.
    let entries: [(name: String, shape: [Int])]
    let kind: GemmaModel.Head

    init(kind: GemmaModel.Head = .causalLM, config: GemmaConfig = CheckpointFixture.config) {
        self.kind = kind
        entries = GemmaModel(config: config, head: kind).parameters.entries.map { ($0.name, $0.shape) }
    }

    /// Values of tensor `index` of `group` at `step`: every element distinct across the file, and
    /// nowhere else in it (they start at 1000 + a per-tensor offset).
    func values(_ group: TensorGroup, _ index: Int, step: Int) -> [Float] {
        let count = entries[index].shape.reduce(1, *)
        let base = Float(1000 + 100 * step) + Float(TensorGroup.allCases.firstIndex(of: group)! * 40 + index) * 0.5
        return (0..<count).map { base + Float($0) * 0.0009765625 }
    }

    func state(step: Int) -> CheckpointState {
        var generator = RandomGenerator(seed: 99)
        for _ in 0..<step { _ = generator.next() }
        return CheckpointState(
            kind: kind, modelConfig: try! Self.config.jsonText(head: kind), step: step, tokensSeen: 4096 * step,
            optimizer: .init(step: step - 1, learningRate: 2.9e-4, beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.01),
            data: .init(seed: 1234, epoch: step / 10, nextIndex: 16 * step), scheduleStep: step,
            randomness: .init(seed: 1234, generator: generator), runConfig: "run:\n  seed: 1234\n",
            mesh: .init(data: 2, model: 1), created: "2026-11-26T17:40:00Z", codeRevision: "0123abc-dirty")
    }

    /// Writes the checkpoint of `step` to `path` with the writer, committing it.
    func write(step: Int, to path: String) throws {
        let writer = try CheckpointWriter(path: path)
        for group in TensorGroup.allCases {
            for (index, entry) in entries.enumerated() {
                try values(group, index, step: step).withUnsafeBufferPointer {
                    try writer.write(group, name: entry.name, shape: entry.shape, values: $0)
                }
            }
        }
        try writer.commit(state: state(step: step), tokenizer: Self.tokenizer)
    }

    /// Flips one bit in the data of tensor `index` of `group` (written at `step`) inside the file.
    func corrupt(_ group: TensorGroup, _ index: Int, step: Int, in path: String) throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let pattern = values(group, index, step: step).withUnsafeBytes { Array($0.prefix(16)) }
        let start = try XCTUnwrap(Self.firstIndex(of: pattern, in: bytes), "tensor bytes not found in \(path)")
        bytes[start + 5] ^= 0x20
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    static func firstIndex(of pattern: [UInt8], in bytes: [UInt8]) -> Int? {
        guard bytes.count >= pattern.count else { return nil }
        return (0...(bytes.count - pattern.count)).first { bytes[$0..<($0 + pattern.count)].elementsEqual(pattern) }
    }

    /// A fresh temporary directory.
    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("checkpoint-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }
}
