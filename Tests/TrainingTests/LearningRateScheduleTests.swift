import XCTest
@testable import Training

/// `LearningRateSchedule` against closed-form values computed by hand for peak 1, warmup 2, total 10,
/// min ratio 0.1 (floor 0.1): warmup `s/2`; then progress `p = (s − 2)/8`, clamped to 1;
/// cosine `0.1 + 0.9·(1 + cos πp)/2`, linear `0.1 + 0.9·(1 − p)`, constant 1.
final class LearningRateScheduleTests: XCTestCase {
    func schedule(_ shape: LearningRateSchedule.Shape, peak: Float = 1, warmup: Int = 2, total: Int = 10,
                  minRatio: Float = 0.1) -> LearningRateSchedule {
        LearningRateSchedule(peak: peak, warmupSteps: warmup, totalSteps: total, shape: shape, minRatio: minRatio)
    }

    func check(_ s: LearningRateSchedule, _ expected: [Int: Double], file: StaticString = #filePath, line: UInt = #line) {
        for (step, value) in expected.sorted(by: { $0.key < $1.key }) {
            XCTAssertEqual(Double(s.rate(at: step)), value, accuracy: 1e-6, "\(s.shape) step \(step)", file: file, line: line)
        }
    }

    func testWarmupIsLinearFromZeroToPeakForEveryShape() {
        for shape in LearningRateSchedule.Shape.allCases {
            check(schedule(shape), [0: 0, 1: 0.5, 2: 1])
            check(schedule(shape, peak: 3e-4, warmup: 4), [1: 0.75e-4, 2: 1.5e-4, 3: 2.25e-4, 4: 3e-4])
        }
    }

    func testCosine() {
        // p = 1/8: cos(π/8) = 0.9238795325; p = 1/4: cos(π/4) = 0.7071067812; p = 3/4: −0.7071067812.
        check(schedule(.cosine), [
            3: 0.1 + 0.9 * (1 + 0.9238795325) / 2,  // 0.9657457896
            4: 0.1 + 0.9 * (1 + 0.7071067812) / 2,  // 0.8681980515
            6: 0.55,
            8: 0.1 + 0.9 * (1 - 0.7071067812) / 2,  // 0.2318019485
            10: 0.1, 11: 0.1, 1000: 0.1,
        ])
    }

    func testLinear() {
        check(schedule(.linear), [3: 0.8875, 4: 0.775, 6: 0.55, 9: 0.2125, 10: 0.1, 12: 0.1])
    }

    func testConstantStaysAtPeakAfterWarmup() {
        // min_lr_ratio applies to cosine and linear only (Docs/RunConfig.md).
        check(schedule(.constant), [3: 1, 6: 1, 10: 1, 50: 1])
    }

    func testNoWarmupAndMinRatio() {
        // Warmup 0, total 4, peak 2, floor 0: p = s/4. Cosine 1 + cos(πs/4), linear 2·(1 − s/4).
        check(schedule(.cosine, peak: 2, warmup: 0, total: 4, minRatio: 0), [
            1: 1 + 0.7071067812, 2: 1, 3: 1 - 0.7071067812, 4: 0, 5: 0,
        ])
        check(schedule(.linear, peak: 2, warmup: 0, total: 4, minRatio: 0), [1: 1.5, 2: 1, 3: 0.5, 4: 0, 9: 0])
        // Min ratio 1: flat at peak.
        check(schedule(.cosine, minRatio: 1), [3: 1, 6: 1, 10: 1, 11: 1])
        // Total not after warmup: the floor right after warmup.
        check(schedule(.linear, warmup: 5, total: 5), [5: 1, 6: 0.1, 7: 0.1])
    }
}
