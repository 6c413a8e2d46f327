import Autograd
import Foundation
import XCTest
@testable import Training

/// The online RL losses against PyTorch (`Fixtures/make_rl_reference.py`, TRL's formulas): for fixed
/// completions' log-probabilities, scores and masks, the RLOO and GRPO rewards, advantages, loss, gradient
/// with respect to the policy's log-probabilities and clipped-token count.
final class PolicyGradientLossTests: XCTestCase {
    struct Fixture: Decodable {
        struct Case: Decodable {
            let beta: Double
            let rewards: [Double], advantages: [Double]
            let loss: Double, grad: [Double]
            let clipped: Int
        }
        let generations: Int, rows: Int, time: Int
        let epsilon: Double, missing_eos_penalty: Double, normalizer: Double
        let mask: [Float], logps: [Float], old: [Float], ref: [Float]
        let scores: [Double], closed: [Bool]
        let cases: [String: Case]
    }

    static let fixture: Fixture = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/rl/expected.json")
        return try! JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }()

    func check(_ name: String, rewards: (Fixture, [Double]) -> [Double], advantages: ([Double], Int) -> [Double], klInLoss: Bool) {
        let f = Self.fixture, c = f.cases[name]!
        let penalised = zip(f.scores, f.closed).map { $0 - ($1 ? 0 : f.missing_eos_penalty) }
        let r = rewards(f, penalised)
        for (mine, theirs) in zip(r, c.rewards) { XCTAssertEqual(mine, theirs, accuracy: 1e-5, "\(name) reward") }
        let a = advantages(r, f.generations)
        for (mine, theirs) in zip(a, c.advantages) { XCTAssertEqual(mine, theirs, accuracy: 1e-5, "\(name) advantage") }
        let logps = Tensor(f.logps, shape: [f.rows, f.time])
        logps.requiresGrad = true
        let (loss, counts) = clippedPolicyLoss(logps: logps, old: f.old, reference: f.ref, advantages: a.map(Float.init), mask: f.mask,
                                               epsilon: Float(f.epsilon), beta: klInLoss ? Float(c.beta) : 0,
                                               normalizer: Float(f.normalizer))
        XCTAssertEqual(Double(loss.item), c.loss, accuracy: 1e-5, "\(name) loss")
        XCTAssertEqual(counts.clipped, c.clipped, "\(name) clipped tokens")
        XCTAssertEqual(counts.tokens, Int(f.mask.reduce(0, +)))
        loss.backward()
        let grad = logps.grad!.scalars
        for (i, (mine, theirs)) in zip(grad, c.grad).enumerated() {
            XCTAssertEqual(Double(mine), theirs, accuracy: 1e-5, "\(name) gradient \(i)")
        }
    }

    func testRLOOMatchesPyTorch() {
        check("rloo", rewards: { f, penalised in
            PolicyAdvantages.klPenalized(penalised, old: f.old, reference: f.ref, mask: f.mask, time: f.time, beta: f.cases["rloo"]!.beta)
        }, advantages: PolicyAdvantages.leaveOneOut, klInLoss: false)
    }

    func testGRPOMatchesPyTorch() {
        check("grpo", rewards: { _, penalised in penalised }, advantages: PolicyAdvantages.groupNormalized, klInLoss: true)
    }

    /// On-policy (`old` = the policy's own values) the ratio is 1: nothing is clipped, the loss is
    /// −Σ A over the tokens (divided by the normalizer) and the gradient −A per token.
    func testOnPolicyGradientIsMinusTheAdvantage() {
        let values: [Float] = [-1, -2, -0.5, -3]
        let logps = Tensor(values, shape: [2, 2])
        logps.requiresGrad = true
        let (loss, counts) = clippedPolicyLoss(logps: logps, old: values, reference: nil, advantages: [2, -1], mask: [1, 1, 1, 0],
                                               epsilon: 0.2, beta: 0, normalizer: 3)
        XCTAssertEqual(loss.item, -(2 + 2 - 1) / 3, accuracy: 1e-6)
        XCTAssertEqual(counts.clipped, 0)
        loss.backward()
        XCTAssertEqual(logps.grad!.scalars, [-2.0 / 3, -2.0 / 3, 1.0 / 3, 0])
    }

    func testLeaveOneOutAndGroupNormalisedAdvantages() {
        XCTAssertEqual(PolicyAdvantages.leaveOneOut([1, 2, 3, 10, 10, 10], groupSize: 3), [-1.5, 0, 1.5, 0, 0, 0])
        let g = PolicyAdvantages.groupNormalized([1, 2, 3], groupSize: 3)  // mean 2, unbiased std 1
        XCTAssertEqual(g[0], -1 / 1.0001, accuracy: 1e-12)
        XCTAssertEqual(g[1], 0)
        XCTAssertEqual(g[2], 1 / 1.0001, accuracy: 1e-12)
    }
}
