import Foundation
import XCTest
@testable import Training

/// CheckpointDirectory: names, the `latest` marker, resume resolution with fallback, pruning.
final class CheckpointDirectoryTests: XCTestCase {
    var dir: URL!
    var directory: CheckpointDirectory { CheckpointDirectory(path: dir.path) }
    let fixture = CheckpointFixture()

    override func setUpWithError() throws { dir = try CheckpointFixture.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func files() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() }

    /// Writes checkpoints of `steps` in order (the marker ends on the last).
    func save(_ steps: [Int]) throws {
        for step in steps { try fixture.write(step: step, to: directory.checkpointPath(step: step)) }
    }

    func resolveAuto() throws -> (path: String?, log: [String]) {
        var lines: [String] = []
        let path = try directory.resolve(resume: "auto", log: { lines.append($0) })
        return (path, lines)
    }

    func testNames() {
        XCTAssertEqual(CheckpointDirectory.fileName(step: 100), "ckpt-00000100.h5")
        XCTAssertEqual(CheckpointDirectory.fileName(step: 123_456_789), "ckpt-123456789.h5")
        XCTAssertEqual(CheckpointDirectory.step(fromFileName: "ckpt-00000100.h5"), 100)
        XCTAssertEqual(CheckpointDirectory.step(fromFileName: "ckpt-123456789.h5"), 123_456_789)
        for name in ["ckpt-100.h5", "ckpt-0000010a.h5", ".ckpt-00000100.h5.tmp-1-2", "ckpt-00000100.h5.bak", "latest"] {
            XCTAssertNil(CheckpointDirectory.step(fromFileName: name), name)
        }
        XCTAssertEqual(CheckpointDirectory(path: "runs/a/").checkpointPath(step: 3), "runs/a/ckpt-00000003.h5")
        XCTAssertEqual(CheckpointDirectory(containing: "runs/a/ckpt-00000003.h5").path, "runs/a")
        XCTAssertEqual(CheckpointDirectory(containing: "ckpt-00000003.h5").markerPath, "./latest")
    }

    func testResolveAutoFallsBackToThePreviousGoodCheckpointAndSaysSo() throws {
        try save([10, 20, 30])
        let name = "model.layers.0.self_attn.q_proj.weight"
        let index = try XCTUnwrap(fixture.entries.firstIndex { $0.name == name })
        try fixture.corrupt(.params, index, step: 30, in: directory.checkpointPath(step: 30))

        let (path, log) = try resolveAuto()
        XCTAssertEqual(path, directory.checkpointPath(step: 20))
        XCTAssertEqual(log.count, 1, "\(log)")
        XCTAssertTrue(log[0].hasPrefix(directory.checkpointPath(step: 30) + ": dataset /params/\(name): checksum mismatch"), log[0])
        XCTAssertTrue(log[0].hasSuffix("; falling back to \(directory.checkpointPath(step: 20))"), log[0])

        // Truncate 20 as well: two lines, and 10 it is.
        let twenty = directory.checkpointPath(step: 20)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: twenty))
        try bytes.prefix(bytes.count - 100).write(to: URL(fileURLWithPath: twenty))
        let again = try resolveAuto()
        XCTAssertEqual(again.path, directory.checkpointPath(step: 10))
        XCTAssertEqual(again.log.count, 2, "\(again.log)")
        XCTAssertTrue(again.log[1].hasPrefix(twenty + ": "), again.log[1])
        XCTAssertTrue(again.log[1].contains("truncated"), again.log[1])
        XCTAssertTrue(again.log[1].hasSuffix("; falling back to \(directory.checkpointPath(step: 10))"), again.log[1])

        // None left: an error naming the directory and the oldest one's problem.
        try fixture.corrupt(.adamV, 0, step: 10, in: directory.checkpointPath(step: 10))
        var lines: [String] = []
        XCTAssertThrowsError(try directory.resolve(resume: "auto", log: { lines.append($0) })) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix(self.dir.path + ": none of the 3 checkpoints can be resumed from"), text)
            XCTAssertTrue(text.contains("ckpt-00000010.h5: dataset /optimizer/v/"), text)
        }
        XCTAssertEqual(lines.count, 3)
        XCTAssertTrue(lines[2].hasSuffix("; no earlier checkpoint"), lines[2])
    }

    /// Candidates checked in a child process: one whose child dies by a signal (as when HDF5 crashes on a
    /// damaged file; here the child kills itself) and one whose child exits 1 with an error line are
    /// logged and fallen back from like any damaged checkpoint; a path given explicitly fails alone.
    func testAChildVerifierThatCrashesOrFailsIsAFallback() throws {
        try save([10, 20, 30])
        let (p10, p20, p30) = (directory.checkpointPath(step: 10), directory.checkpointPath(step: 20), directory.checkpointPath(step: 30))
        let script = """
            case "$1" in
            *ckpt-00000030.h5) kill -SEGV $$ ;;
            *ckpt-00000020.h5) echo "a log line" >&2; echo "error: $1: dataset /params/x: checksum mismatch (bad)" >&2; exit 1 ;;
            esac
            """
        let verifier = CheckpointVerifier.childProcess(executable: "/bin/sh", arguments: ["-c", script, "verifier"])
        var lines: [String] = []
        XCTAssertEqual(try directory.resolve(resume: "auto", verifier: verifier, log: { lines.append($0) }), p10)
        XCTAssertEqual(lines, [
            "\(p30): reading it crashed the HDF5 library (signal 11 in the verifying child process): the file is damaged; falling back to \(p20)",
            "\(p20): dataset /params/x: checksum mismatch (bad); falling back to \(p10)",
        ])
        XCTAssertThrowsError(try directory.resolve(resume: p20, verifier: verifier, log: { XCTFail($0) })) { error in
            XCTAssertEqual("\(error)", "\(p20): dataset /params/x: checksum mismatch (bad)")
        }
        let missing = CheckpointVerifier.childProcess(executable: dir.appendingPathComponent("no-such-program").path, arguments: [])
        XCTAssertThrowsError(try missing.check(p10)) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(p10): cannot start the verifier "), "\(error)")
        }
    }

    func testTheLatestMarkerChoosesAndAStaleOrMissingMarkerFallsToTheNewest() throws {
        try save([10, 20])
        XCTAssertEqual(directory.latest(), "ckpt-00000020.h5")
        XCTAssertEqual(try resolveAuto().path, directory.checkpointPath(step: 20))

        // The marker names an existing older checkpoint (e.g. the run was resumed from it): it wins.
        try directory.setLatest(fileName: "ckpt-00000010.h5")
        XCTAssertEqual(try resolveAuto().path, directory.checkpointPath(step: 10))

        // Missing: the newest by step, silently.
        try FileManager.default.removeItem(atPath: directory.markerPath)
        XCTAssertNil(directory.latest())
        let missing = try resolveAuto()
        XCTAssertEqual(missing.path, directory.checkpointPath(step: 20))
        XCTAssertEqual(missing.log, [])

        // Stale (names a file that is gone): the newest by step, saying so.
        try directory.setLatest(fileName: "ckpt-00000030.h5")
        let stale = try resolveAuto()
        XCTAssertEqual(stale.path, directory.checkpointPath(step: 20))
        XCTAssertEqual(stale.log, ["\(directory.markerPath): names ckpt-00000030.h5, which is not a checkpoint here; "
                                   + "starting from the newest, \(directory.checkpointPath(step: 20))"])

        // Garbage in the marker counts as missing.
        try Data("../../etc/passwd\n".utf8).write(to: URL(fileURLWithPath: directory.markerPath))
        XCTAssertNil(directory.latest())
        XCTAssertEqual(try resolveAuto().path, directory.checkpointPath(step: 20))
    }

    func testResolveWithoutCheckpointsStartsFresh() throws {
        XCTAssertEqual(try resolveAuto().path, nil)
        let absent = CheckpointDirectory(path: dir.appendingPathComponent("not-yet").path)
        XCTAssertNil(try absent.resolve(resume: "auto", log: { XCTFail($0) }))
    }

    func testResolveAPathChecksItWithoutFallback() throws {
        try save([10, 20])
        let twenty = directory.checkpointPath(step: 20)
        XCTAssertEqual(try directory.resolve(resume: twenty, log: { XCTFail($0) }), twenty)
        try fixture.corrupt(.params, 2, step: 20, in: twenty)
        XCTAssertThrowsError(try directory.resolve(resume: twenty, log: { XCTFail($0) })) { error in
            XCTAssertTrue("\(error)".hasPrefix(twenty + ": dataset /params/"), "\(error)")
            XCTAssertTrue("\(error)".contains("checksum mismatch"), "\(error)")
        }
        let missing = dir.appendingPathComponent("nope.h5").path
        XCTAssertThrowsError(try directory.resolve(resume: missing, log: { XCTFail($0) })) { error in
            XCTAssertTrue("\(error)".hasPrefix(missing + ": "), "\(error)")
        }
    }

    func testTemporaryFilesAreIgnoredAndRemoved() throws {
        try save([10])
        let leftovers = [".ckpt-00000020.h5.tmp-4711-9f3a", ".latest.tmp-4711-77"]
        for name in leftovers {
            try Data("half a file".utf8).write(to: dir.appendingPathComponent(name))
        }
        try Data("not ours".utf8).write(to: dir.appendingPathComponent(".other.tmp-1-1"))
        XCTAssertEqual(try directory.checkpoints().map(\.step), [10])
        let (path, log) = try resolveAuto()
        XCTAssertEqual(path, directory.checkpointPath(step: 10))
        XCTAssertEqual(log, [])
        XCTAssertEqual(try files(), [".other.tmp-1-1", "ckpt-00000010.h5", "latest"])
    }

    func testPruneKeepsTheNewestAndTheMarkedOne() throws {
        try save([10, 20, 30, 40, 50])
        try Data().write(to: dir.appendingPathComponent(".ckpt-00000060.h5.tmp-1-2"))
        XCTAssertEqual(try directory.prune(keep: 0), [])
        XCTAssertEqual(try directory.checkpoints().map(\.step), [10, 20, 30, 40, 50])
        XCTAssertFalse(try files().contains(".ckpt-00000060.h5.tmp-1-2"))

        try directory.setLatest(fileName: "ckpt-00000020.h5")
        XCTAssertEqual(try directory.prune(keep: 2), ["ckpt-00000010.h5", "ckpt-00000030.h5"])
        XCTAssertEqual(try directory.checkpoints().map(\.step), [20, 40, 50])
        XCTAssertEqual(try directory.prune(keep: 1), ["ckpt-00000040.h5"])
        XCTAssertEqual(try files(), ["ckpt-00000020.h5", "ckpt-00000050.h5", "latest"])
    }
}
