import Foundation
import XCTest
import Training

final class ProgressDisplayTests: XCTestCase {
    func testDuration() {
        let cases: [(Double?, String)] = [
            (0, "0s"), (45, "45s"), (59.4, "59s"), (59.6, "1m00s"), (130, "2m10s"), (605, "10m05s"),
            (3599, "59m59s"), (3600, "1h00m"), (3720, "1h02m"), (90061, "25h01m"),
            (nil, "--"), (-1, "--"), (.nan, "--"), (.infinity, "--"),
        ]
        for (seconds, want) in cases { XCTAssertEqual(ProgressDisplay.duration(seconds), want, "\(String(describing: seconds))") }
    }

    func testLines() {
        var s = ProgressDisplay.State(step: 20, totalSteps: 500, loss: 3.21454, lr: 3e-4, tokensPerSecond: 1234.4, etaSeconds: 130)
        XCTAssertEqual(ProgressDisplay.plainLine(s), "step 20/500 loss 3.2145 lr 3.00e-04 tok/s 1234 eta 2m10s")
        XCTAssertEqual(ProgressDisplay.barLine(s),
                       "[....................]  20/500 loss 3.2145 lr 3.00e-04 tok/s 1234 eta 2m10s")
        s.step = 250
        s.etaSeconds = nil
        XCTAssertEqual(ProgressDisplay.barLine(s, width: 10),
                       "[#####.....] 250/500 loss 3.2145 lr 3.00e-04 tok/s 1234 eta --")
        s.step = 500
        s.loss = .nan
        XCTAssertEqual(ProgressDisplay.barLine(s, width: 4), "[####] 500/500 loss nan lr 3.00e-04 tok/s 1234 eta --")
    }

    /// The objective's headline metrics follow the loss, in the order asked for, taken from the record.
    func testShownMetrics() {
        var lines: [String] = []
        let display = ProgressDisplay(totalSteps: 10, enabled: true, isTerminal: false,
                                      shownMetrics: ["rewards/accuracies", "rewards/margins", "absent"]) { lines.append($0) }
        var r = StepRecord(step: 10, loss: 0.5, lr: 1e-4, gradNorm: 1, tokens: 10, tokensPerSecond: 100, elapsedSeconds: 1)
        r.extra = [("rewards/margins", 0.123456), ("logps/chosen", -3), ("rewards/accuracies", 0.75)]
        display.update(r)
        XCTAssertEqual(lines, ["step 10/10 loss 0.5000 rewards/accuracies 0.75 rewards/margins 0.1235 lr 1.00e-04 tok/s 100 eta 0s\n"])
    }

    func testETA() {
        XCTAssertEqual(ProgressDisplay.eta(step: 20, totalSteps: 500, startStep: 0, seconds: 10), 240)
        XCTAssertEqual(ProgressDisplay.eta(step: 20, totalSteps: 500, startStep: 10, seconds: 10), 480)
        XCTAssertNil(ProgressDisplay.eta(step: 10, totalSteps: 500, startStep: 10, seconds: 0))
        XCTAssertEqual(ProgressDisplay.eta(step: 500, totalSteps: 500, startStep: 0, seconds: 10), 0)
    }

    func record(_ step: Int, elapsed: Double) -> StepRecord {
        StepRecord(step: step, loss: 2, lr: 1e-3, gradNorm: 1, tokens: 100 * step, tokensPerSecond: 100,
                   elapsedSeconds: elapsed)
    }

    func testPlainModePrintsEveryNAndLast() {
        var out: [String] = []
        let progress = ProgressDisplay(totalSteps: 12, every: 5, enabled: true, isTerminal: false) { out.append($0) }
        for step in 1 ... 12 { progress.update(record(step, elapsed: Double(step))) }
        progress.finish()
        XCTAssertEqual(out, [
            "step 5/12 loss 2.0000 lr 1.00e-03 tok/s 100 eta 7s\n",
            "step 10/12 loss 2.0000 lr 1.00e-03 tok/s 100 eta 2s\n",
            "step 12/12 loss 2.0000 lr 1.00e-03 tok/s 100 eta 0s\n",
        ])
        progress.message("saved ckpt-00000012.h5")
        XCTAssertEqual(out.last, "saved ckpt-00000012.h5\n")
    }

    func testDisabledPrintsNothing() {
        var out: [String] = []
        let progress = ProgressDisplay(totalSteps: 3, enabled: false, isTerminal: false) { out.append($0) }
        for step in 1 ... 3 { progress.update(record(step, elapsed: Double(step))) }
        progress.message("hello")
        XCTAssertTrue(out.isEmpty)
    }

    func testTerminalRedrawsOneLine() {
        var out: [String] = []
        let progress = ProgressDisplay(totalSteps: 100, enabled: true, startStep: 50, isTerminal: true) { out.append($0) }
        progress.update(record(51, elapsed: 1.00))
        progress.update(record(52, elapsed: 1.05))  // within 0.1 s of the last draw: skipped
        progress.update(record(53, elapsed: 1.20))
        progress.message("eval loss 2.5")
        progress.finish()
        let bar53 = "[##########..........]  53/100 loss 2.0000 lr 1.00e-03 tok/s 100 eta 19s"
        XCTAssertEqual(out, [
            "\r[##########..........]  51/100 loss 2.0000 lr 1.00e-03 tok/s 100 eta 49s\u{1B}[K",
            "\r" + bar53 + "\u{1B}[K",
            "\r\u{1B}[Keval loss 2.5\n" + bar53,
            "\n",
        ])
        out.removeAll()
        progress.update(record(100, elapsed: 1.21))  // the last step is always drawn and ends the line
        progress.finish()
        XCTAssertEqual(out.count, 1)
        XCTAssertTrue(out[0].hasSuffix("100/100 loss 2.0000 lr 1.00e-03 tok/s 100 eta 0s\u{1B}[K\n"), out[0])
    }
}
