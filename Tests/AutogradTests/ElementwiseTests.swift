import Foundation
import XCTest
@testable import Autograd

/// Binary, scalar and unary elementwise ops. Gradients: eps 1e-2 (1e-3 for exp/log/div whose curvature
/// is larger), |err| <= 1e-3 + 1e-2 |numeric|.
final class ElementwiseTests: XCTestCase {
    func testBinaryOpsWithBroadcasting() {
        var rng = TestRNG(seed: 10)
        let shapes: [([Int], [Int])] = [([3, 17], [3, 17]), ([2, 3, 5], [5]), ([5], [2, 3, 5]), ([1], [1]), ([3, 1], [1])]
        for (sa, sb) in shapes {
            let a = rng.tensor(sa)
            let b = rng.tensor(sb, 0.5, 2)  // away from zero for division
            let ops: [(String, (Tensor, Tensor) -> Tensor, (Float, Float) -> Float)] = [
                ("+", { $0 + $1 }, { $0 + $1 }), ("-", { $0 - $1 }, { $0 - $1 }),
                ("*", { $0 * $1 }, { $0 * $1 }), ("/", { $0 / $1 }, { $0 / $1 }),
            ]
            for (name, op, f) in ops {
                let y = op(a, b)
                let big = a.count >= b.count ? a : b
                XCTAssertEqual(y.shape, big.shape, name)
                for i in 0..<y.count {
                    let ia = a.count == y.count ? i : i % a.count
                    let ib = b.count == y.count ? i : i % b.count
                    XCTAssertEqual(y.data[i], f(a.data[ia], b.data[ib]), accuracy: 1e-6, "\(name) \(sa) \(sb)")
                }
                assertGradients([a, b], eps: name == "/" ? 1e-3 : 1e-2) { op(a, b) }
            }
        }
    }

    func testScalarOps() {
        var rng = TestRNG(seed: 11)
        let x = rng.tensor([3, 17])
        XCTAssertEqual((x * 2 + 1).scalars, x.scalars.map { $0 * 2 + 1 })
        XCTAssertEqual((1 - x).scalars, x.scalars.map { 1 - $0 })
        XCTAssertEqual((-x).scalars, x.scalars.map { -$0 })
        assertGradients([x]) { 3 - x * 2.5 / 4 + 1 }
    }

    func testUnaryValuesMatchLibm() {
        var xs: [Float] = [-100, -88, -20, -9, -1, -0.6, -1e-3, 0, 1e-3, 0.3, 0.62, 0.63, 1, 5, 9, 20, 80]
        var rng = TestRNG(seed: 12)
        xs += (0..<200).map { _ in rng.uniform(-12, 12) }
        let x = Tensor(xs, shape: [xs.count])
        let checks: [(String, Tensor, (Double) -> Double)] = [
            ("exp", exp(x), { Foundation.exp($0) }),
            ("tanh", tanh(x), { Foundation.tanh($0) }),
            ("sigmoid", sigmoid(x), { 1 / (1 + Foundation.exp(-$0)) }),
            ("logSigmoid", logSigmoid(x), { -Foundation.log1p(Foundation.exp(-$0)) }),
        ]
        for (name, y, f) in checks {
            for i in 0..<xs.count {
                let want = f(Double(xs[i]))
                XCTAssertEqual(Double(y.data[i]), want, accuracy: max(abs(want) * 3e-6, 1e-6), "\(name)(\(xs[i]))")
            }
        }
        let pos = Tensor([1e-30, 1e-5, 0.3, 0.7071, 0.7072, 1, 2, 1e5, 3e38], shape: [9])
        let l = log(pos)
        for i in 0..<pos.count {
            XCTAssertEqual(Double(l.data[i]), Foundation.log(Double(pos.data[i])), accuracy: 2e-6 * max(1, abs(Foundation.log(Double(pos.data[i])))), "log(\(pos.data[i]))")
        }
        XCTAssertEqual(log(Tensor([0], shape: [1])).item, -.infinity)
    }

    func testUnaryGradients() {
        var rng = TestRNG(seed: 13)
        let x = rng.tensor([3, 17], -3, 3)
        assertGradients([x], eps: 1e-3) { exp(x) }
        assertGradients([x]) { tanh(x) }
        assertGradients([x]) { sigmoid(x) }
        assertGradients([x]) { logSigmoid(x) }
        let p = rng.tensor([17], 0.5, 3)
        assertGradients([p], eps: 1e-3) { log(p) }
        let one = rng.tensor([1])
        assertGradients([one]) { logSigmoid(tanh(one)) }
    }
}
