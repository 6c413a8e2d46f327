import Foundation
import XCTest
@testable import Training

/// A process killed with SIGKILL in the middle of saving never leaves a checkpoint name or the `latest`
/// marker pointing at an unloadable file.
///
/// The saving process is this test bundle itself, run as a child on one test,
/// ``testSaveLoopChild()``: with `GEMMATRAIN_SAVE_LOOP_DIR` set it saves checkpoints into that
/// directory (through ``CheckpointWriter`` and ``CheckpointDirectory/prune(keep:)``, as the trainer
/// does) until it is killed; without it, it is skipped.
final class CheckpointKillTests: XCTestCase {
    static let directoryVariable = "GEMMATRAIN_SAVE_LOOP_DIR"
    /// About 2.5 M parameters: 30 MB per checkpoint, long enough a write to be killed inside.
    static let fixture = CheckpointFixture(config: .init(
        vocabSize: 2048, hiddenSize: 256, intermediateSize: 1024, numHiddenLayers: 2, numAttentionHeads: 4,
        numKeyValueHeads: 1, headDim: 64, maxPositionEmbeddings: 64))

    func testSaveLoopChild() throws {
        guard let path = ProcessInfo.processInfo.environment[Self.directoryVariable] else {
            throw XCTSkip("runs only as the child process of testKilledSavesNeverPublishAnUnloadableCheckpoint")
        }
        let directory = CheckpointDirectory(path: path)
        var step = (try directory.checkpoints().last?.step ?? 0) + 1
        while true {
            try Self.fixture.write(step: step, to: directory.checkpointPath(step: step))
            try directory.prune(keep: 2)
            step += 1
        }
    }

    func testKilledSavesNeverPublishAnUnloadableCheckpoint() throws {
        #if !os(Linux)
        throw XCTSkip("runs the XCTest executable as a child, which is Linux's layout")
        #else
        let dir = try CheckpointFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let directory = CheckpointDirectory(path: dir.path)
        var killedMidWrite = 0
        for round in 0..<8 {
            let child = Process()
            child.executableURL = URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0])
            child.arguments = ["TrainingTests.CheckpointKillTests/testSaveLoopChild"]
            child.environment = ProcessInfo.processInfo.environment.merging([Self.directoryVariable: dir.path]) { $1 }
            child.standardOutput = FileHandle.nullDevice
            child.standardError = FileHandle.nullDevice
            try child.run()
            // Wait for a complete checkpoint and the next one's temporary file, then kill a little later.
            let deadline = Date().addingTimeInterval(120)
            while !(try hasCheckpointAndTemporary(directory)) {
                XCTAssertTrue(child.isRunning, "the child exited: \(child.terminationStatus)")
                guard child.isRunning, Date() < deadline else { break }
                usleep(2_000)
            }
            usleep(UInt32(round * 9_000))
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            XCTAssertEqual(child.terminationReason, .uncaughtSignal)
            if try FileManager.default.contentsOfDirectory(atPath: dir.path).contains(where: { $0.contains(".tmp-") }) {
                killedMidWrite += 1
            }

            // The marker may not exist yet (killed between publishing the first checkpoint and writing it);
            // if it does, it names a checkpoint that is there. Every published checkpoint verifies.
            let named = try directory.checkpoints()
            let marked = directory.latest()
            if let marked {
                XCTAssertTrue(named.contains { $0.fileName == marked }, "round \(round): latest names \(marked), absent")
            }
            for entry in named {
                XCTAssertNoThrow(try CheckpointReader.open(entry.path).verify(), "round \(round): \(entry.fileName)")
            }
            let resumed = try directory.resolve(resume: "auto", log: { XCTFail("round \(round): \($0)") })
            XCTAssertEqual(resumed, marked.map { dir.appendingPathComponent($0).path } ?? named.last?.path)
            XCTAssertNotNil(resumed, "round \(round)")
        }
        XCTAssertGreaterThan(killedMidWrite, 0, "no kill landed inside a save")
        #endif
    }

    /// Whether the directory holds a checkpoint and a save's temporary file.
    private func hasCheckpointAndTemporary(_ directory: CheckpointDirectory) throws -> Bool {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        return names.contains { CheckpointDirectory.step(fromFileName: $0) != nil } && names.contains { $0.contains(".tmp-") }
    }
}
