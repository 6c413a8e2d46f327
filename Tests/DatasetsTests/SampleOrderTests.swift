import XCTest
@testable import Datasets

/// `SampleOrder`: each epoch a permutation, the sample at index `i` a pure function of `(seed, i)`, and the
/// permutation equal to an independent re-implementation of the documented algorithm (SplitMix64-seeded
/// xoshiro256**, Sources/NN/RandomGenerator.swift, seeded with `seed · 0x9E3779B97F4A7C15 + epoch`; then a
/// Fisher-Yates shuffle swapping `i` with `next() % (i + 1)` for `i = count-1 ... 1`).
final class SampleOrderTests: XCTestCase {
    /// xoshiro256** as published by Blackman and Vigna, seeded by SplitMix64; written here from the paper,
    /// not shared with the code under test.
    struct ReferenceXoshiro {
        var s: [UInt64]
        init(seed: UInt64) {
            var x = seed
            s = (0..<4).map { _ in
                x = x &+ 0x9E37_79B9_7F4A_7C15
                var z = x
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                return z ^ (z >> 31)
            }
        }
        static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
        mutating func next() -> UInt64 {
            let result = Self.rotl(s[1] &* 5, 7) &* 9
            let t = s[1] << 17
            s[2] ^= s[0]
            s[3] ^= s[1]
            s[1] ^= s[2]
            s[0] ^= s[3]
            s[2] ^= t
            s[3] = Self.rotl(s[3], 45)
            return result
        }
    }

    static func referencePermutation(count: Int, seed: UInt64, epoch: Int) -> [Int] {
        var rng = ReferenceXoshiro(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(epoch))
        var p = Array(0..<count)
        var i = count - 1
        while i > 0 {
            let j = Int(rng.next() % UInt64(i + 1))
            (p[i], p[j]) = (p[j], p[i])
            i -= 1
        }
        return p
    }

    func testReferenceGeneratorMatchesPublishedVector() {
        // SplitMix64 from seed 0 gives 0xE220A8397B1DCDAF first (Vigna's splitmix64.c); xoshiro256** with
        // state (1, 2, 3, 4) gives 11520, 0, 1509978240, 1215971899390074240 (the reference C code).
        var r = ReferenceXoshiro(seed: 0)
        XCTAssertEqual(r.s[0], 0xE220_A839_7B1D_CDAF)
        r.s = [1, 2, 3, 4]
        XCTAssertEqual((0..<4).map { _ in r.next() }, [11520, 0, 1_509_978_240, 1_215_971_899_390_074_240])
    }

    func testEpochsArePermutationsEqualToTheReference() {
        for (count, seed) in [(1, UInt64(0)), (2, 1), (5, 7), (10, 42), (97, 12345), (10, UInt64.max)] {
            var order = SampleOrder(count: count, seed: seed)
            for epoch in 0..<3 {
                let visited = (epoch * count..<(epoch + 1) * count).map { order.sample(at: $0) }
                XCTAssertEqual(visited.sorted(), Array(0..<count), "count \(count) seed \(seed) epoch \(epoch)")
                XCTAssertEqual(visited, Self.referencePermutation(count: count, seed: seed, epoch: epoch),
                               "count \(count) seed \(seed) epoch \(epoch)")
                XCTAssertEqual(SampleOrder.permutation(count: count, seed: seed, epoch: epoch), visited)
            }
        }
    }

    func testSampleIsAPureFunctionOfSeedAndIndex() {
        let count = 7, seed: UInt64 = 3
        var forward = SampleOrder(count: count, seed: seed)
        let expected = (0..<(5 * count)).map { forward.sample(at: $0) }
        // Backwards, across every epoch boundary.
        var backward = SampleOrder(count: count, seed: seed)
        let reversed = (0..<(5 * count)).reversed().map { backward.sample(at: $0) }
        XCTAssertEqual(Array(reversed.reversed()), expected)
        // Jumping between epochs, each query on a fresh order and on one shared order.
        var jumping = SampleOrder(count: count, seed: seed)
        for i in [30, 2, 34, 0, 14, 13, 7, 21, 6, 28, 1, 29] {
            XCTAssertEqual(jumping.sample(at: i), expected[i], "index \(i)")
            var fresh = SampleOrder(count: count, seed: seed)
            XCTAssertEqual(fresh.sample(at: i), expected[i], "index \(i)")
        }
    }

    func testEpochsAndSeedsDiffer() {
        let count = 10
        let epochs = (0..<4).map { SampleOrder.permutation(count: count, seed: 5, epoch: $0) }
        XCTAssertEqual(Set(epochs).count, 4, "\(epochs)")
        XCTAssertNotEqual(SampleOrder.permutation(count: count, seed: 5, epoch: 0),
                          SampleOrder.permutation(count: count, seed: 6, epoch: 0))
        // Not the identity (a shuffle happens at all).
        XCTAssertNotEqual(epochs[0], Array(0..<count))
    }
}
