/// MinHash signatures of word shingles: the fraction of positions where two signatures agree estimates
/// the Jaccard similarity of the two texts' sets of word 5-grams (Broder 1997).
///
/// Each of the ``permutations`` hash functions is `lowbias32(x ^ seed_k)` of a shingle's 32-bit hash `x`
/// (a bijection of 32-bit values for each seed), computed eight at a time with SIMD.
public struct MinHash: Sendable {
    /// Hash functions per signature (entries of 32 bits).
    public static let permutations = 128
    /// Words per shingle.
    public let shingleWords: Int
    /// `[permutations / 8]` the seeds, eight per vector.
    let seeds: [SIMD8<UInt32>]

    public init(shingleWords: Int = 5, seed: UInt64 = 0x5eed) {
        precondition(shingleWords >= 1, "MinHash: shingleWords must be >= 1")
        self.shingleWords = shingleWords
        var state = seed
        seeds = (0..<Self.permutations / 8).map { _ in
            SIMD8((0..<8).map { _ in
                state = TextNormalization.mix(state)
                return UInt32(truncatingIfNeeded: state)
            })
        }
    }

    /// The signature of the shingles of `words` (``TextNormalization/wordHashes(_:into:)``): every run of
    /// ``shingleWords`` consecutive words, or all the words as one shingle when there are fewer. Nil for
    /// no words.
    public func signature(words: [UInt64]) -> [UInt32]? {
        guard !words.isEmpty else { return nil }
        var minima = [SIMD8<UInt32>](repeating: SIMD8(repeating: .max), count: seeds.count)
        let width = min(shingleWords, words.count)
        for start in 0...(words.count - width) {
            var h: UInt64 = 0
            for w in words[start..<start + width] { h = TextNormalization.mix(h ^ w) }
            let x = SIMD8<UInt32>(repeating: UInt32(truncatingIfNeeded: h ^ (h >> 32)))
            for k in 0..<seeds.count {
                var v = x ^ seeds[k]
                v ^= v &>> 16
                v &*= 0x7feb_352d
                v ^= v &>> 15
                v &*= 0x846c_a68b
                v ^= v &>> 16
                minima[k] = pointwiseMin(minima[k], v)
            }
        }
        return minima.flatMap { v in (0..<8).map { v[$0] } }
    }

    /// The estimated Jaccard similarity of two signatures: the fraction of equal entries.
    public static func similarity(_ a: some Collection<UInt32>, _ b: some Collection<UInt32>) -> Double {
        precondition(a.count == b.count, "MinHash.similarity: signatures of different lengths")
        return Double(zip(a, b).filter { $0 == $1 }.count) / Double(a.count)
    }
}
