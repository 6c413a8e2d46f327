import XCTest
@testable import Autograd

/// Reductions and data movement. These are linear, so gradients are checked with eps 1e-2 and
/// |err| <= 1e-3 + 1e-2 |numeric|, and values exactly.
final class ShapeTests: XCTestCase {
    func testSumAndMeanOverEachAxis() {
        var rng = TestRNG(seed: 20)
        let x = rng.tensor([3, 1, 17])
        for axis in [0, 1, 2, -1] {
            let s = sum(x, axis: axis), m = mean(x, axis: axis)
            var shape = x.shape
            let ax = axis < 0 ? axis + 3 : axis
            shape.remove(at: ax)
            XCTAssertEqual(s.shape, shape)
            assertClose(m, s / Float(x.shape[ax]), tol: 1e-6)
            assertGradients([x]) { sum(x, axis: axis) }
            assertGradients([x]) { mean(x, axis: axis) }
        }
        XCTAssertEqual(sum(x).item, x.scalars.reduce(0, +), accuracy: 1e-5)
        assertGradients([x]) { mean(x) }
    }

    func testReshapeSharesStorageAndInfers() {
        var rng = TestRNG(seed: 21)
        let x = rng.tensor([3, 17])
        let y = reshape(x, [17, -1])
        XCTAssertEqual(y.shape, [17, 3])
        XCTAssertEqual(y.data, x.data)
        assertGradients([x]) { reshape(x, [1, 51]) * 2 }
    }

    func testTransposeAnyTwoAxes() {
        var rng = TestRNG(seed: 22)
        let x = rng.tensor([2, 3, 1, 5])
        for (a, b) in [(0, 1), (1, 3), (0, 3), (2, 1)] {
            let y = transpose(x, a, b)
            var shape = x.shape
            shape.swapAt(a, b)
            XCTAssertEqual(y.shape, shape)
            // element [i0, i1, i2, i3] moves to the swapped index
            for i0 in 0..<2 { for i1 in 0..<3 { for i3 in 0..<5 {
                var idx = [i0, i1, 0, i3]
                let v = x.data[((i0 * 3 + i1) * 1) * 5 + i3]
                idx.swapAt(a, b)
                let flat = ((idx[0] * shape[1] + idx[1]) * shape[2] + idx[2]) * shape[3] + idx[3]
                XCTAssertEqual(y.data[flat], v)
            } } }
            XCTAssertEqual(transpose(y, a, b).scalars, x.scalars)
            assertGradients([x]) { transpose(x, a, b) }
        }
    }

    func testSliceConcatSplit() {
        var rng = TestRNG(seed: 23)
        let a = rng.tensor([3, 2, 17]), b = rng.tensor([3, 1, 17]), c = rng.tensor([3, 3, 17])
        let j = concat([a, b, c], axis: 1)
        XCTAssertEqual(j.shape, [3, 6, 17])
        let parts = split(j, sizes: [2, 1, 3], axis: 1)
        XCTAssertEqual(parts.map(\.scalars), [a.scalars, b.scalars, c.scalars])
        XCTAssertEqual(slice(j, axis: -1, 3..<4).shape, [3, 6, 1])
        assertGradients([a, b, c]) { concat([a, b, c], axis: 1) }
        assertGradients([a]) { concat([a, a, a], axis: 0) }
        assertGradients([c]) { slice(c, axis: 2, 5..<16) }
        assertGradients([c]) { concat(split(c, sizes: [1, 2], axis: 1).reversed(), axis: 1) }
    }

    func testEmbeddingGatherAndScatterAdd() {
        var rng = TestRNG(seed: 24)
        let w = rng.tensor([5, 17])
        let ids: [Int32] = [4, 0, 4, 2, 4, 1, 0]  // repeats must accumulate
        let y = embedding(w, ids)
        XCTAssertEqual(y.shape, [7, 17])
        for (n, id) in ids.enumerated() {
            XCTAssertEqual(Array(y.scalars[(n * 17)..<((n + 1) * 17)]), Array(w.scalars[(Int(id) * 17)..<((Int(id) + 1) * 17)]))
        }
        assertGradients([w]) { embedding(w, ids) }
        let one = rng.tensor([1, 3])
        assertGradients([one]) { embedding(one, [0]) }
    }
}
