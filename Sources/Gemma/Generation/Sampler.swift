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

extension SamplingOptions {
    /// These options with a seed that is a function of this seed and `keys` only (a splitmix64 step per
    /// key): e.g. the prompt's index, so a reply does not depend on the batch it is drawn in, or
    /// (step, prompt, sample) in online RL, so a resumed run draws the uninterrupted run's tokens.
    public func seeded(by keys: Int...) -> SamplingOptions {
        var options = self
        for key in keys {
            var z = options.seed &+ 0x9E37_79B9_7F4A_7C15 &+ UInt64(bitPattern: Int64(key)) &* 0xD1B5_4A32_D192_ED03
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            options.seed = z ^ (z >> 31)
        }
        return options
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

    /// The entropy (nats) of the distribution the logits give at this sampler's temperature (1 when
    /// greedy) over the ids it may pick, before top-k and top-p: the policy's entropy, as TRL logs it.
    public func entropy(_ allLogits: [Float]) -> Float {
        let count = min(options.vocabularyLimit ?? allLogits.count, allLogits.count)
        let t = Double(options.temperature > 0 ? options.temperature : 1)
        var top = -Double.infinity
        for i in 0..<count { top = Swift.max(top, Double(allLogits[i]) / t) }
        var total = 0.0, weighted = 0.0  // Σ e^(z−top), Σ e^(z−top)·(z−top)
        for i in 0..<count {
            let z = Double(allLogits[i]) / t - top
            let e = Foundation.exp(z)
            total += e
            weighted += e * z
        }
        return Float(Foundation.log(total) - weighted / total)
    }
}
