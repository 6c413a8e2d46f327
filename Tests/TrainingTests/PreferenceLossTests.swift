import Autograd
import Foundation
import XCTest
@testable import Training

/// DPO's losses against their formulas evaluated in Double, and their gradients against finite differences.
final class PreferenceLossTests: XCTestCase {
    // Two pairs: policy and reference summed log-probabilities, chosen first.
    let policy: [Float] = [-10.5, -7.25, -12.0, -6.0], reference: [Float] = [-11.0, -7.0, -11.5, -6.5]

    func logSigmoid(_ x: Double) -> Double { -log1p(exp(-x)) }

    /// d = (π_c − r_c) − (π_r − r_r) per pair, from the numbers above.
    var margins: [Double] { [(-10.5 + 11.0) - (-12.0 + 11.5), (-7.25 + 7.0) - (-6.0 + 6.5)] }  // [1.0, -0.75]

    func testSigmoidWithLabelSmoothingAndIPOEqualTheirFormulas() {
        let (beta, eps) = (0.1, 0.2)
        let cases: [(PreferenceLoss, (Double) -> Double)] = [
            (PreferenceLoss(kind: .sigmoid, beta: Float(beta)), { -self.logSigmoid(beta * $0) }),
            (PreferenceLoss(kind: .sigmoid, beta: Float(beta), labelSmoothing: Float(eps)),
             { -(1 - eps) * self.logSigmoid(beta * $0) - eps * self.logSigmoid(-beta * $0) }),
            (PreferenceLoss(kind: .ipo, beta: Float(beta)), { pow($0 - 1 / (2 * beta), 2) }),
        ]
        for (loss, formula) in cases {
            let (value, sums) = withNoGrad { loss(policy: Tensor(policy, shape: [4]), reference: reference, normalizer: 4) }
            let expected = margins.map(formula).reduce(0, +) / 4  // summed over 2 pairs, normalised by a global 4
            XCTAssertEqual(Double(value.item), expected, accuracy: 1e-6 * max(1, abs(expected)), "\(loss.kind)")
            XCTAssertEqual(sums.pairs, 2)
            XCTAssertEqual(sums.rewardsChosen, beta * (0.5 + -0.25), accuracy: 1e-6)
            XCTAssertEqual(sums.rewardsRejected, beta * (-0.5 + 0.5), accuracy: 1e-6)
            XCTAssertEqual(sums.accuracies, 1, "pair 1's chosen reward is higher, pair 2's is not")
            XCTAssertEqual(sums.logpsChosen, -17.75)
            XCTAssertEqual(sums.logpsRejected, -18)
        }
    }

    /// At π = r every pair's loss is log 2 (sigmoid), whatever β.
    func testEqualPolicyAndReferenceGiveLogTwo() {
        let loss = PreferenceLoss(kind: .sigmoid, beta: 0.3)
        let (value, _) = withNoGrad { loss(policy: Tensor(reference, shape: [4]), reference: reference, normalizer: 2) }
        XCTAssertEqual(Double(value.item), log(2), accuracy: 1e-6)
    }

    /// Gradients with respect to the policy's log-probabilities: central differences in Double of the
    /// formulas, within 1e-5.
    func testGradientsMatchFiniteDifferences() {
        for loss in [PreferenceLoss(kind: .sigmoid, beta: 0.5, labelSmoothing: 0.1), PreferenceLoss(kind: .ipo, beta: 0.5)] {
            let x = Tensor(policy, shape: [4])
            x.requiresGrad = true
            loss(policy: x, reference: reference, normalizer: 3).loss.backward()
            for i in 0..<4 {
                func at(_ delta: Float) -> Double {
                    var p = policy
                    p[i] += delta
                    return Double(withNoGrad { loss(policy: Tensor(p, shape: [4]), reference: reference, normalizer: 3).loss.item })
                }
                let numeric = (at(1e-2) - at(-1e-2)) / 2e-2
                XCTAssertEqual(Double(x.grad!.data[i]), numeric, accuracy: 1e-4, "\(loss.kind) d/dπ[\(i)]")
            }
        }
    }
}
