import Datasets
import XCTest

final class EditDistanceTests: XCTestCase {
    func ids(_ s: String) -> [Int32] { s.unicodeScalars.map { Int32($0.value) } }

    func testKnownDistances() {
        XCTAssertEqual(editDistance(ids("kitten"), ids("sitting")), 3)  // two substitutions, one insertion
        XCTAssertEqual(editDistance(ids(""), ids("abc")), 3)
        XCTAssertEqual(editDistance(ids("abc"), ids("")), 3)
        XCTAssertEqual(editDistance(ids("abc"), ids("abc")), 0)
        XCTAssertEqual(editDistance(ids("abcdef"), ids("bcdefa")), 2)  // a shift: one deletion, one insertion
        XCTAssertEqual(editDistance(ids("flaw"), ids("lawn")), editDistance(ids("lawn"), ids("flaw")))
    }
}
