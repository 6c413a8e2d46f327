import Foundation
import XCTest
@testable import Checkpoint

final class AtomicPathTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("AtomicPathTests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func contents() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
    }

    func testWritePublishesTheWholeFileUnderTheFinalName() throws {
        let path = directory.appendingPathComponent("model.h5").path
        try AtomicPath.write(path) { temporary in
            XCTAssertTrue(temporary.hasPrefix(self.directory.path + "/.model.h5.tmp-\(getpid())-"), temporary)
            XCTAssertTrue(AtomicPath.isTemporaryName((temporary as NSString).lastPathComponent, finalPrefix: "model"))
            XCTAssertFalse(FileManager.default.fileExists(atPath: path))
            try Data("new".utf8).write(to: URL(fileURLWithPath: temporary))
        }
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "new")
        XCTAssertEqual(try contents(), ["model.h5"])
    }

    func testAFailingBodyLeavesTheOldFileAndNoTemporary() throws {
        let path = directory.appendingPathComponent("model.h5").path
        try Data("old".utf8).write(to: URL(fileURLWithPath: path))
        struct Failure: Error {}
        XCTAssertThrowsError(try AtomicPath.write(path) { temporary in
            try Data("half".utf8).write(to: URL(fileURLWithPath: temporary))
            throw Failure()
        })
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "old")
        XCTAssertEqual(try contents(), ["model.h5"])
    }

    func testCommitWithoutATemporaryFileNamesTheFinalPath() throws {
        let path = directory.appendingPathComponent("never-written.h5").path
        let atomic = AtomicPath(path)
        XCTAssertThrowsError(try atomic.commit()) { error in
            let failure = error as? FileSystemError
            XCTAssertEqual(failure?.errno, ENOENT)
            XCTAssertTrue("\(error)".hasPrefix(path + ": open "), "\(error)")
        }
        XCTAssertFalse(AtomicPath.isTemporaryName("model.h5"))
        XCTAssertFalse(AtomicPath.isTemporaryName(".model.h5.tmp-1-a", finalPrefix: "ckpt-"))
    }

    func testAbandonRemovesTheTemporaryFile() throws {
        let atomic = AtomicPath(directory.appendingPathComponent("x.bin").path)
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: atomic.temporaryPath))
        atomic.abandon()
        atomic.abandon()
        XCTAssertEqual(try contents(), [])
    }
}
