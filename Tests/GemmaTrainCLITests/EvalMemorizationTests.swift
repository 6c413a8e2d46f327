import Foundation
import XCTest

/// `gemma-train eval memorization`: a model overfitted on a handful of rows reproduces them from their
/// prefixes, a fresh model does not, on one process and on a mesh; bad settings are one line.
final class EvalMemorizationTests: XCTestCase {
    static let rows = [
        "the lighthouse keeper counted seven ships before the storm reached the northern harbour at dusk",
        "a quiet library in the valley keeps old maps of rivers that changed their course long ago",
        "every morning the baker sold warm bread and honey cakes to the fishermen on the pier",
        "our garden grew tomatoes beans and tall sunflowers that leaned toward the afternoon light",
        "the keeper wrote to us ann@mail.com about the harbour maps before the ships sail at dawn",
    ]

    func memorization(_ checkpoint: String, _ data: String, _ extra: [String] = [], mpirun ranks: Int? = nil) throws -> CommandRunner.Result {
        let arguments = ["eval", "memorization", "--checkpoint", checkpoint, "--data", data, "--prefix", "6", "--suffix", "8"] + extra
        return try ranks.map { try CommandRunner.mpirun($0, arguments) } ?? CommandRunner.run(arguments)
    }

    func rates(_ r: CommandRunner.Result) throws -> (exact: Double, approximate: Double, n: Int) {
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        return (json["exact_rate"] as! Double, json["approximate_rate"] as! Double, json["n"] as! Int)
    }

    func withPII(_ r: CommandRunner.Result) throws -> Int {
        (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any])["memorized_with_pii"] as! Int
    }

    func testOverfittedModelMemorizesAndAFreshOneDoesNot() throws {
        let dir = try CommandRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = dir.appendingPathComponent("rows.jsonl")
        try Data(Self.rows.map { #"{"text": "\#($0)"}"# }.joined(separator: "\n").utf8).write(to: data)
        let run = dir.appendingPathComponent("overfit")
        let trained = try CommandRunner.inRoot {
            try CommandRunner.run(["pretrain", "--config", "Configs/pretrain-tiny.yaml", "--set", "run.dir=\(run.path)"] + CommandRunner.shortRun
                                  + ["--set", "data.train=\(data.path)", "--set", "data.eval=null", "--set", "train.steps=150",
                                     "--set", "train.lr=3e-3", "--set", "train.batch_size=4", "--set", "checkpoint.every=0"])
        }
        XCTAssertEqual(trained.status, 0, trained.stderr)
        let overfit = run.appendingPathComponent("ckpt-00000150.h5").path
        let save = dir.appendingPathComponent("cases.jsonl").path
        let run1 = try memorization(overfit, data.path, ["--save", save])
        let memorized = try rates(run1)
        XCTAssertEqual(try withPII(run1), 1)
        XCTAssertEqual(memorized.n, 5)
        XCTAssertGreaterThanOrEqual(memorized.exact, 0.75)
        XCTAssertGreaterThanOrEqual(memorized.approximate, memorized.exact)
        let cases = try String(contentsOfFile: save, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(cases.count, 5)
        // The overfitted model reproduces the row with an e-mail address, which the PII scanner finds.
        let casesWithPII = cases.filter { $0.contains(#""pii": ["EMAIL"]"#) }
        XCTAssertEqual(casesWithPII.count, 1, cases.joined(separator: "\n"))
        XCTAssertTrue(casesWithPII.first?.contains(#""approximate": true"#) == true)
        XCTAssertEqual(try rates(try memorization(overfit, data.path, ["--mesh", "data=2,model=1"], mpirun: 2)).exact, memorized.exact)
        XCTAssertEqual(try rates(try memorization(overfit, data.path, ["--mesh", "data=1,model=2"], mpirun: 2)).exact, memorized.exact)

        let fresh = dir.appendingPathComponent("fresh.h5").path
        XCTAssertEqual(try CommandRunner.inRoot {
            try CommandRunner.run(["init-model", "--preset", "tiny", "--tokenizer", "Configs/tokenizer/demo.model", "--out", fresh])
        }.status, 0)
        let run2 = try memorization(fresh, data.path)
        let forgotten = try rates(run2)
        XCTAssertEqual(try withPII(run2), 0)
        XCTAssertEqual(forgotten.exact, 0)
        XCTAssertEqual(forgotten.approximate, 0)

        let tooLong = try memorization(fresh, data.path, ["--prefix", "400", "--suffix", "200"])
        XCTAssertEqual(tooLong.status, 1)
        XCTAssertTrue(tooLong.stderr.hasPrefix("error: --prefix 400 + --suffix 200 (+ <bos>) exceed the model's context of"), tooLong.stderr)
    }
}
