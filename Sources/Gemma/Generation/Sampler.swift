import Foundation
import NN

/// How the next token is picked from the logits.
public struct SamplingOptions: Sendable {
    /// 0 means greedy (arg-max); otherwise logits are divided by it before sampling.
    public var temperature: Float = 1
    /// Keep only the `topK` most likely tokens (nil: all).
    public var topK: Int?
    /// Keep the smallest set of most likely tokens whose probability reaches `topP` (nil: all).
    public var topP: Float?
    public var seed: UInt64 = 0
    /// Only ids below this are ever picked (a model's vocabulary may be padded beyond its tokenizer's).
    public var vocabularyLimit: Int?

    public init(temperature: Float = 1, topK: Int? = nil, topP: Float? = nil, seed: UInt64 = 0,
                vocabularyLimit: Int? = nil) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.seed = seed
        self.vocabularyLimit = vocabularyLimit
    }
}

/// Picks tokens from logits: greedy, or temperature sampling restricted by top-k and top-p, from a seeded
/// generator (the same seed gives the same tokens).
public struct Sampler {
    public let options: SamplingOptions
    var rng: RandomGenerator

    public init(_ options: SamplingOptions) {
        self.options = options
        rng = RandomGenerator(seed: options.seed)
    }

    public mutating func next(_ allLogits: [Float]) -> Int32 {
        let logits = options.vocabularyLimit.map { Array(allLogits.prefix($0)) } ?? allLogits
        precondition(!logits.isEmpty, "Sampler: empty logits")
        if options.temperature <= 0 {
            var best = 0
            for i in 1..<logits.count where logits[i] > logits[best] { best = i }
            return Int32(best)
        }
        // Candidates sorted by logit, most likely first; ties keep the lower id.
        var order = Array(logits.indices)
        order.sort { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
        if let k = options.topK, k > 0 { order = Array(order.prefix(k)) }
        let top = Double(logits[order[0]])
        var probs = order.map { Foundation.exp((Double(logits[$0]) - top) / Double(options.temperature)) }
        let total = probs.reduce(0, +)
        probs = probs.map { $0 / total }
        if let p = options.topP, p < 1 {
            var mass = 0.0, keep = 0
            while keep < probs.count && mass < Double(p) { mass += probs[keep]; keep += 1 }
            order = Array(order.prefix(max(keep, 1)))
            probs = Array(probs.prefix(max(keep, 1)))
        }
        let u = Double(rng.nextUniform()) * probs.reduce(0, +)
        var acc = 0.0
        for (i, prob) in probs.enumerated() {
            acc += prob
            if u < acc { return Int32(order[i]) }
        }
        return Int32(order[probs.count - 1])
    }
}
