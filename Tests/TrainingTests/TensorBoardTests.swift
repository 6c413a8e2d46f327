import Foundation
import XCTest
import Training

/// TensorBoardWriter -> TensorBoardReader round trips, CRC and truncation errors, and one record
/// byte-for-byte against the `tensorboard` package's own writer (Fixtures/check_tensorboard.py --golden).
final class TensorBoardTests: XCTestCase {
    var directory: URL!
    var keep = false

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tb-\(UUID().uuidString)")
    }

    override func tearDownWithError() throws {
        if !keep { try? FileManager.default.removeItem(at: directory) }
    }

    func record(_ step: Int) -> StepRecord {
        StepRecord(step: step, loss: 4 / Float(step + 1) + 0.1, lr: 3e-4 * Float(step) / 3, gradNorm: 1.5 / Float(step),
                   tokens: 2048 * step, tokensPerSecond: 1000 + 10 * Double(step), elapsedSeconds: 0.5 * Double(step),
                   extra: step == 3 ? [("accuracy", 0.625), ("margin", 0.25), ("eval_loss", 2.75)] : [])
    }

    /// Writes the header and steps 1...3 (step 3 with extras) into `directory`.
    func writeRun() throws -> URL {
        let writer = try TensorBoardWriter(directory: directory, wallTime: 1_700_000_000.25)
        for step in 1 ... 3 { try writer.append(record(step), wallTime: 1_700_000_000.25 + Double(step)) }
        try writer.close()
        return writer.url
    }

    /// Set GEMMATRAIN_TB_OUT=DIR to keep this test's event file in DIR for Fixtures/check_tensorboard.py.
    func testRoundTrip() throws {
        if let out = ProcessInfo.processInfo.environment["GEMMATRAIN_TB_OUT"] {
            directory = URL(fileURLWithPath: out)
            keep = true
        }
        let url = try writeRun()
        XCTAssertTrue(url.lastPathComponent.hasPrefix("events.out.tfevents.1700000000."), url.lastPathComponent)
        let events = try TensorBoardReader.events(at: url)
        XCTAssertEqual(events.count, 4)
        XCTAssertEqual(events[0].fileVersion, "brain.Event:2")
        XCTAssertEqual(events[0].wallTime, 1_700_000_000.25)
        XCTAssertTrue(events[0].scalars.isEmpty)
        for step in 1 ... 3 {
            let e = events[step], r = record(step)
            XCTAssertEqual(e.step, step)
            XCTAssertNil(e.fileVersion)
            XCTAssertEqual(e.wallTime, 1_700_000_000.25 + Double(step))
            XCTAssertEqual(e.scalars.map(\.tag), StepRecord.fixedKeys.dropFirst() + r.extra.map(\.0))
            XCTAssertEqual(e.scalar("loss")?.bitPattern, r.loss.bitPattern)
            XCTAssertEqual(e.scalar("lr")?.bitPattern, r.lr.bitPattern)
            XCTAssertEqual(e.scalar("grad_norm")?.bitPattern, r.gradNorm.bitPattern)
            XCTAssertEqual(e.scalar("tokens"), Float(r.tokens))
            XCTAssertEqual(e.scalar("tokens_per_s"), Float(r.tokensPerSecond))
            XCTAssertEqual(e.scalar("elapsed_s"), Float(r.elapsedSeconds))
        }
        XCTAssertEqual(events[3].scalar("eval_loss"), 2.75)
    }

    /// The framed bytes of a scalar event and of a restart marker equal what tensorboard's RecordWriter
    /// writes for the same Events (`python3 Fixtures/check_tensorboard.py --golden`).
    func testGoldenRecords() throws {
        func lastRecord(_ writer: TensorBoardWriter) throws -> String {
            let bytes = [UInt8](try Data(contentsOf: writer.url))
            let records = try TensorBoardReader.records(in: bytes, file: writer.url.path)
            XCTAssertEqual(records.count, 2)
            return bytes[(records[1].startIndex - 12) ..< (records[1].endIndex + 4)].map { String(format: "%02x", $0) }.joined()
        }
        let scalars = try TensorBoardWriter(directory: directory, wallTime: 0)
        try scalars.append(step: 7, scalars: [("loss", 2.5), ("lr", 3e-4)], wallTime: 1_700_000_000.5)
        try scalars.close()
        XCTAssertEqual(try lastRecord(scalars),
                       "2500000000000000eabc36f30900002040fc54d94110072a180a0b0a046c6f737315000020400a090a026c721552499d39c64da8af")
        let restart = try TensorBoardWriter(directory: directory, resumingAfter: 10, wallTime: 1_700_000_000.5)
        try restart.close()
        XCTAssertEqual(try lastRecord(restart), "0f000000000000006d532b090900002040fc54d941100b3a0208015e354911")
    }

    /// A summary longer than 16383 bytes needs a 3-byte length varint.
    func testLargeSummary() throws {
        let writer = try TensorBoardWriter(directory: directory)
        let scalars = (0 ..< 2000).map { ("tag/\($0)", Float($0) * 0.5) }
        try writer.append(step: 42, scalars: scalars)
        try writer.close()
        let events = try TensorBoardReader.events(at: writer.url)
        XCTAssertEqual(events.count, 2)
        XCTAssertEqual(events[1].step, 42)
        XCTAssertEqual(events[1].scalars.map(\.tag), scalars.map(\.0))
        XCTAssertEqual(events[1].scalars.map(\.value), scalars.map(\.1))
    }

    func testCorruptionNamesFileAndRecord() throws {
        let url = try writeRun()
        let good = [UInt8](try Data(contentsOf: url))
        let records = try TensorBoardReader.records(in: good, file: url.path)

        func expectError(_ bytes: [UInt8], record: Int, _ reason: String, line: UInt = #line) {
            XCTAssertThrowsError(try TensorBoardReader.records(in: bytes, file: url.path), line: line) { error in
                guard let error = error as? MetricsError else { return XCTFail("\(error)", line: line) }
                XCTAssertEqual(error.record, record, "\(error)", line: line)
                XCTAssertTrue(error.reason.contains(reason), "\(error)", line: line)
                XCTAssertTrue(error.description.hasPrefix(url.path + ": record \(record): "), "\(error)", line: line)
            }
        }
        var bytes = good
        bytes[records[2].startIndex + 5] ^= 0x01  // a byte of record 2's event
        expectError(bytes, record: 2, "data CRC mismatch")
        bytes = good
        bytes[records[1].startIndex - 12] ^= 0x01  // record 1's length
        expectError(bytes, record: 1, "length CRC mismatch")
        bytes = good
        bytes[records[3].endIndex] ^= 0x80  // record 3's data CRC itself
        expectError(bytes, record: 3, "data CRC mismatch")
        expectError(Array(good.dropLast(3)), record: 3, "truncated")
        expectError(Array(good[..<(records[2].startIndex - 5)]), record: 2, "truncated")

        // Through the file API too.
        bytes = good
        bytes[records[2].startIndex + 5] ^= 0x01
        try Data(bytes).write(to: url)
        XCTAssertThrowsError(try TensorBoardReader.events(at: url)) { error in
            XCTAssertTrue("\(error)".contains(url.lastPathComponent + ": record 2: data CRC mismatch"), "\(error)")
        }
    }

    func testResumeMarkerAndDistinctFileNames() throws {
        let first = try TensorBoardWriter(directory: directory, wallTime: 1_700_000_000)
        let second = try TensorBoardWriter(directory: directory, resumingAfter: 10, wallTime: 1_700_000_000)
        try first.close()
        try second.close()
        XCTAssertNotEqual(first.url, second.url)
        let events = try TensorBoardReader.events(at: second.url)
        XCTAssertEqual(events.count, 2)
        XCTAssertTrue(events[1].sessionStart)
        XCTAssertEqual(events[1].step, 11)
    }
}
