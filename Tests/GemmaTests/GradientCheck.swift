import NN
import XCTest

/// Checks the analytic loss gradient of a sample of each entry's elements (a quarter of them, evenly
/// spaced) against central differences of `loss` with step 1e-2: |err| <= 2e-3 + 2e-2 |numeric|, the
/// tolerance of a deep Float32 composition.
/// - Parameter analytic: the gradient of the element at flat index `i` of `store.values`.
func checkGradients(_ store: ParameterStore, _ entries: [ParameterStore.Entry], analytic: (Int) -> Float, loss: () -> Double,
                    file: StaticString = #filePath, line: UInt = #line) {
    let values = store.values
    for e in entries {
        for j in stride(from: 0, to: e.count, by: max(1, e.count / 4)) {
            let i = e.offset + j
            let saved = values.data[i]
            values.data[i] = saved + 1e-2
            let plus = loss()
            values.data[i] = saved - 1e-2
            let minus = loss()
            values.data[i] = saved
            let numeric = (plus - minus) / 2e-2
            XCTAssertEqual(Double(analytic(i)), numeric, accuracy: 2e-3 + 2e-2 * abs(numeric), "\(e.name)[\(j)]", file: file, line: line)
        }
    }
}
