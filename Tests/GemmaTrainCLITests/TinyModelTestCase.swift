import Foundation
import XCTest

/// Tests that start from a tiny model file made by `gemma-train init-model` in a fresh directory.
class TinyModelTestCase: XCTestCase {
    var dir: URL!
    var model: String { dir.appendingPathComponent("tiny.h5").path }

    override func setUpWithError() throws {
        dir = try CommandRunner.temporaryDirectory()
        let made = try CommandRunner.run(["init-model", "--preset", "tiny", "--tokenizer", CommandRunner.tokenizer,
                                          "--out", model, "--seed", "3"])
        XCTAssertEqual(made.status, 0, made.stderr)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }
}
