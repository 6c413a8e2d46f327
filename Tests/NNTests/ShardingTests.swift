import XCTest
@testable import NN

/// Shards against the full tensor: `extract` and `place` invert each other over all parts, and the
/// file block of a shard (`block`) read row-major and zero-padded is the shard.
final class ShardingTests: XCTestCase {
    func testShardsCoverTheFullTensorAndBlocksMatchExtract() {
        let (rows, cols) = (50, 6)  // 50 rows over 4 parts: 13, 13, 13, 11 real rows, the last padded
        let full = (0..<(rows * cols)).map { Float($0) }
        for (split, parts) in [(Sharding.Split.rows, 4), (.columns, 3), (.replicated, 1)] {
            var rebuilt = [Float](repeating: -1, count: full.count)
            for p in 0..<parts {
                let s = Sharding(split, fullShape: [rows, cols], part: p, parts: parts)
                let n = s.localShape.reduce(1, *)
                var local = [Float](repeating: .nan, count: n)
                full.withUnsafeBufferPointer { f in local.withUnsafeMutableBufferPointer { s.extract(from: f.baseAddress!, into: $0.baseAddress!) } }
                // The block, read row-major from the full tensor, then zero padding.
                let (offset, count) = s.block
                var fromBlock: [Float] = []
                for r in offset[0]..<(offset[0] + count[0]) {
                    for c in offset[1]..<(offset[1] + count[1]) { fromBlock.append(full[r * cols + c]) }
                }
                fromBlock += [Float](repeating: 0, count: n - fromBlock.count)
                XCTAssertEqual(local, fromBlock, "\(split) part \(p)")
                local.withUnsafeBufferPointer { l in rebuilt.withUnsafeMutableBufferPointer { s.place(shard: l.baseAddress!, of: p, into: $0.baseAddress!) } }
            }
            XCTAssertEqual(rebuilt, full, "\(split)")
        }
    }
}
