import Foundation
import XCTest
import Training

final class MetricsLogTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString)")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// The keys and raw number tokens of a flat JSON object of numbers, in file order.
    func tokens(_ line: Substring) -> [(String, String)] {
        line.dropFirst().dropLast().split(separator: ",").map { pair in
            let colon = pair.lastIndex(of: ":")!
            return (String(pair[..<colon].dropFirst().dropLast()), String(pair[pair.index(after: colon)...]))
        }
    }

    func lines() throws -> [Substring] {
        try String(contentsOf: directory.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false).dropLast()  // the last line ends too
    }

    func record(_ step: Int, loss: Float, extra: [(String, Double)] = []) -> StepRecord {
        StepRecord(step: step, loss: loss, lr: 3e-4 * Float(step) / 7, gradNorm: 1 / Float(step + 2),
                   tokens: 4096 * step, tokensPerSecond: 1234.5 + Double(step), elapsedSeconds: 0.1 * Double(step),
                   extra: extra)
    }

    /// Every Float reads back with the same bit pattern, including values whose Double widening prints
    /// differently (0.1), subnormals, the extremes and -0.
    func testRoundTripIsExact() throws {
        let losses: [Float] = [2.3456789, 0.1, .leastNonzeroMagnitude, .leastNormalMagnitude, .greatestFiniteMagnitude, -0.0,
                               1e-5, 100_000_000, 10.8291, .pi]
        let log = try MetricsLog(directory: directory)
        for (i, loss) in losses.enumerated() {
            try log.append(record(i + 1, loss: loss, extra: i == 2 ? [("accuracy", 0.75), ("margin", -0.125)] : []))
        }
        try log.close()

        let lines = try lines()
        XCTAssertEqual(lines.count, losses.count)
        for (i, line) in lines.enumerated() {
            // Valid JSON, and the exact tokens parse back to the same Float bits.
            XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(line.utf8)), String(line))
            let fields = tokens(line)
            let want = record(i + 1, loss: losses[i])
            XCTAssertEqual(fields.map(\.0), StepRecord.fixedKeys + (i == 2 ? ["accuracy", "margin"] : []))
            XCTAssertEqual(Int(fields[0].1), i + 1)
            XCTAssertEqual(Float(fields[1].1)?.bitPattern, losses[i].bitPattern, "loss token \(fields[1].1)")
            XCTAssertEqual(Float(fields[2].1)?.bitPattern, want.lr.bitPattern)
            XCTAssertEqual(Float(fields[3].1)?.bitPattern, want.gradNorm.bitPattern)
            XCTAssertEqual(Int(fields[4].1), want.tokens)
            XCTAssertEqual(Double(fields[5].1), want.tokensPerSecond)
            XCTAssertEqual(Double(fields[6].1), want.elapsedSeconds)
        }
        XCTAssertEqual(tokens(lines[0])[1].1, "2.3456788")  // Swift's shortest form of Float(2.3456789)
        XCTAssertEqual(tokens(lines[1])[1].1, "0.1")  // not 0.10000000149011612
        XCTAssertEqual(tokens(lines[2]).suffix(2).map(\.1), ["0.75", "-0.125"])
    }

    func testLineLayoutAndNonFinite() throws {
        let line = try MetricsLog.jsonLine(StepRecord(step: 20, loss: .nan, lr: 3e-4, gradNorm: .infinity, tokens: 81920,
                                                      tokensPerSecond: 1234.5, elapsedSeconds: 66.25,
                                                      extra: [("eval_loss", 3.5)]))
        XCTAssertEqual(line, #"{"step":20,"loss":null,"lr":0.0003,"grad_norm":null,"tokens":81920,"tokens_per_s":1234.5,"elapsed_s":66.25,"eval_loss":3.5}"#)
    }

    func testRepeatedKeyIsAnErrorNamingTheFile() throws {
        let log = try MetricsLog(directory: directory)
        XCTAssertThrowsError(try log.append(record(1, loss: 1, extra: [("loss", 2)]))) { error in
            XCTAssertTrue("\(error)".contains("metrics.jsonl"), "\(error)")
            XCTAssertTrue("\(error)".contains("\"loss\" appears twice"), "\(error)")
        }
        XCTAssertThrowsError(try log.append(record(1, loss: 1, extra: [("margin", 2), ("margin", 3)])))
    }

    /// A resumed run drops the lines after its checkpoint and a crash's unfinished line, then appends.
    func testResumeCutsLaterStepsAndPartialLine() throws {
        let log = try MetricsLog(directory: directory)
        for step in 1 ... 5 { try log.append(record(step, loss: Float(step))) }
        try log.close()
        let handle = try FileHandle(forWritingTo: log.url)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"step":6,"loss":1."#.utf8))  // crashed mid-line
        try handle.close()

        let reopened = try MetricsLog(directory: directory)  // no resume step: only the partial line goes
        try reopened.close()
        XCTAssertEqual(try lines().count, 5)

        let resumed = try MetricsLog(directory: directory, resumingAfter: 3)
        try resumed.append(record(4, loss: 44))
        try resumed.close()
        let steps = try lines().map { Int(tokens($0)[0].1)! }
        XCTAssertEqual(steps, [1, 2, 3, 4])
        XCTAssertEqual(tokens(try lines()[3])[1].1, "44.0")
    }

    func testUnwritableDirectoryErrorNamesIt() throws {
        let file = directory.appendingPathComponent("plain-file")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data().write(to: file)
        XCTAssertThrowsError(try MetricsLog(directory: file)) { error in
            XCTAssertTrue("\(error)".contains("plain-file"), "\(error)")
        }
    }
}
