import NN

/// The order samples are visited in: epoch `e` is a shuffle of `0..<count` seeded by `(seed, e)`, so the
/// sample at global index `i` is a pure function of `(seed, i)`: resuming needs only the index, and the
/// order does not depend on how many ranks read it.
public struct SampleOrder: Sendable {
    public let count: Int, seed: UInt64
    private var epoch = -1
    private var permutation: [Int] = []

    public init(count: Int, seed: UInt64) {
        precondition(count > 0, "SampleOrder: no samples")
        self.count = count
        self.seed = seed
    }

    /// The sample index at global position `i` (epoch `i / count`).
    public mutating func sample(at i: Int) -> Int {
        let e = i / count
        if e != epoch {
            epoch = e
            permutation = Self.permutation(count: count, seed: seed, epoch: e)
        }
        return permutation[i % count]
    }

    /// Fisher-Yates shuffle of `0..<count` from a generator seeded by `seed` and `epoch`.
    public static func permutation(count: Int, seed: UInt64, epoch: Int) -> [Int] {
        var rng = RandomGenerator(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(epoch))
        var p = Array(0..<count)
        for i in stride(from: count - 1, to: 0, by: -1) {
            p.swapAt(i, Int(rng.next() % UInt64(i + 1)))
        }
        return p
    }
}
