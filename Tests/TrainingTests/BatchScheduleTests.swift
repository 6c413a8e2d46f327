import XCTest
@testable import Training

/// `BatchSchedule` with rows that are their own index, so a batch shows which global positions it took:
/// step `s` takes global rows `(s-1)·B ..< s·B` of the sample order, data rank `d` of `D` the slice
/// `d·B/D ..< (d+1)·B/D`, cut into micro-batches (Docs/Training.md "Order"). The order is an independent
/// re-implementation of the documented shuffle (SplitMix64-seeded xoshiro256** seeded with
/// `seed · 0x9E3779B97F4A7C15 + epoch`, Fisher-Yates from the top), not a call to `SampleOrder`.
final class BatchScheduleTests: XCTestCase {
    static func referencePermutation(count: Int, seed: UInt64, epoch: Int) -> [Int] {
        var x = seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(epoch)
        var s: [UInt64] = (0..<4).map { _ in
            x = x &+ 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        func rotl(_ v: UInt64, _ k: UInt64) -> UInt64 { (v << k) | (v >> (64 - k)) }
        func next() -> UInt64 {
            let result = rotl(s[1] &* 5, 7) &* 9
            let t = s[1] << 17
            s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t
            s[3] = rotl(s[3], 45)
            return result
        }
        var p = Array(0..<count)
        for i in stride(from: count - 1, through: 1, by: -1) {
            let j = Int(next() % UInt64(i + 1))
            (p[i], p[j]) = (p[j], p[i])
        }
        return p
    }

    /// The rows at global positions `range`: epoch `i / count`, place `i % count`.
    static func reference(_ range: Range<Int>, count: Int, seed: UInt64) -> [Int] {
        range.map { referencePermutation(count: count, seed: seed, epoch: $0 / count)[$0 % count] }
    }

    func testStepsTakeConsecutiveGlobalRowsAcrossEpochs() {
        let count = 5, seed: UInt64 = 11, b = 2
        var schedule = BatchSchedule(rows: Array(0..<count), seed: seed, batchSize: b, microBatchSize: 1)
        for step in 1...8 {
            let expected = Self.reference((step - 1) * b..<step * b, count: count, seed: seed)
            XCTAssertEqual(schedule.globalRows(step: step), expected, "step \(step)")
            XCTAssertEqual(schedule.microBatches(step: step), expected.map { [$0] }, "step \(step)")
        }
        // Step 3 straddles epochs 0 and 1: global rows 4 and 5.
        XCTAssertEqual(schedule.globalRows(step: 3), [Self.referencePermutation(count: 5, seed: seed, epoch: 0)[4],
                                                      Self.referencePermutation(count: 5, seed: seed, epoch: 1)[0]])
        // Asked in any order, from the same or a fresh schedule: the same rows.
        for step in [8, 1, 5, 2] {
            var fresh = BatchSchedule(rows: Array(0..<count), seed: seed, batchSize: b, microBatchSize: 1)
            let expected = Self.reference((step - 1) * b..<step * b, count: count, seed: seed)
            XCTAssertEqual(fresh.globalRows(step: step), expected)
            XCTAssertEqual(schedule.globalRows(step: step), expected)
        }
    }

    func testRanksTakeTheirSliceCutIntoMicroBatches() {
        let count = 24, seed: UInt64 = 3, b = 16
        for step in [1, 2, 3] {
            let global = Self.reference((step - 1) * b..<step * b, count: count, seed: seed)
            // D = 4, micro-batch 2: rank d reads global[4d ..< 4d+4] as two micro-batches.
            var union: [Int] = []
            for d in 0..<4 {
                var schedule = BatchSchedule(rows: Array(0..<count), seed: seed, batchSize: b, microBatchSize: 2,
                                             dataRank: d, dataParallel: 4)
                let g = global
                XCTAssertEqual(schedule.microBatches(step: step), [[g[4 * d], g[4 * d + 1]], [g[4 * d + 2], g[4 * d + 3]]],
                               "step \(step) rank \(d)")
                XCTAssertEqual(schedule.globalRows(step: step), global)
                union += schedule.microBatches(step: step).flatMap { $0 }
            }
            XCTAssertEqual(union, global)
            // D = 2, micro-batch 4: rank d reads global[8d ..< 8d+8]; D = 1, micro-batch 8: two halves.
            for d in 0..<2 {
                var schedule = BatchSchedule(rows: Array(0..<count), seed: seed, batchSize: b, microBatchSize: 4,
                                             dataRank: d, dataParallel: 2)
                XCTAssertEqual(schedule.microBatches(step: step),
                               [Array(global[8 * d..<8 * d + 4]), Array(global[8 * d + 4..<8 * d + 8])])
            }
            var one = BatchSchedule(rows: Array(0..<count), seed: seed, batchSize: b, microBatchSize: 8)
            XCTAssertEqual(one.microBatches(step: step), [Array(global[0..<8]), Array(global[8..<16])])
        }
    }

    func testRowsAreLookedUpByTheirSampleIndex() {
        // Rows that are not their own index: the schedule returns rows[order(i)].
        let names = ["a", "b", "c", "d"]
        var schedule = BatchSchedule(rows: names, seed: 8, batchSize: 4, microBatchSize: 2)
        let expected = Self.reference(0..<4, count: 4, seed: 8).map { names[$0] }
        XCTAssertEqual(schedule.globalRows(step: 1), expected)
        XCTAssertEqual(schedule.microBatches(step: 1), [Array(expected[0..<2]), Array(expected[2..<4])])
        XCTAssertEqual(Set(expected), Set(names))
    }
}
