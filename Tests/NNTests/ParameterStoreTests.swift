import XCTest
import Autograd
@testable import NN

final class ParameterStoreTests: XCTestCase {
    /// Named views share the flat buffers: writing a view changes `values`, and backward through a view
    /// accumulates into the flat `gradients` at that view's offset.
    func testViewsShareTheFlatBuffers() {
        let store = ParameterStore()
        store.add("a", shape: [2, 3], decay: true)
        store.add("b", shape: [3], decay: false)
        store.finalize()
        XCTAssertEqual(store.count, 9)
        let a = store["a"]!, b = store["b"]!
        a.data[4] = 2
        XCTAssertEqual(store.values.data[4], 2)
        b.data.update(repeating: 1, count: 3)
        sum(a * b).backward()
        sum(b * 3).backward()
        // d/da = b = 1 everywhere; d/db = Σ_rows a + 3
        XCTAssertEqual(Array(store.gradients.scalars[0..<6]), [1, 1, 1, 1, 1, 1])
        XCTAssertEqual(Array(store.gradients.scalars[6..<9]), [3, 5, 3])
        store.zeroGradients()
        XCTAssertEqual(store.gradients.scalars, [Float](repeating: 0, count: 9))
        XCTAssertEqual(store.entry("b")?.offset, 6)
        XCTAssertEqual(store.entry("b")?.decay, false)
    }
}
