import Foundation
import XCTest

/// `init-model`, `generate`, `chat`, `eval loss`, `convert` and `tokenize` as a user runs them.
final class ModelCommandsTests: TinyModelTestCase {

    func testGenerateIsReproducibleForASeed() throws {
        let args = ["generate", "--checkpoint", model, "--prompt", "Once upon a time", "--max-tokens", "10", "--seed", "7"]
        let a = try CommandRunner.run(args), b = try CommandRunner.run(args)
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertTrue(a.stdout.hasPrefix("Once upon a time"), a.stdout)
        XCTAssertGreaterThan(a.stdout.count, "Once upon a time".count)
        XCTAssertEqual(a.stdout, b.stdout)
        let chat = try CommandRunner.run(["generate", "--checkpoint", model, "--prompt", "Hi!", "--chat",
                                          "--max-tokens", "5", "--temperature", "0"])
        XCTAssertEqual(chat.status, 0, chat.stderr)
    }

    /// `--prompts F --out G`: one reply per prompt in file order, the same in batches of 2 as of 5 (each
    /// prompt's seed is its own), and an existing `--out` is not replaced without `--force`.
    func testGenerateRepliesToAFileOfPrompts() throws {
        let prompts = dir.appendingPathComponent("prompts.jsonl")
        try (1...5).map { #"{"prompt": "question \#($0)?"}"# }.joined(separator: "\n").write(to: prompts, atomically: true, encoding: .utf8)
        var outputs: [String] = []
        for batch in ["2", "5"] {
            let out = dir.appendingPathComponent("replies-\(batch).jsonl").path
            let r = try CommandRunner.run(["generate", "--checkpoint", model, "--prompts", prompts.path, "--out", out, "--batch", batch,
                                           "--max-tokens", "6", "--temperature", "0.8", "--seed", "3"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let text = try String(contentsOfFile: out, encoding: .utf8)
            let lines = try text.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
            XCTAssertEqual(lines.map { $0["line"] as? Int }, [1, 2, 3, 4, 5])
            outputs.append(text)
        }
        XCTAssertEqual(outputs[0], outputs[1])
        let again = try CommandRunner.run(["generate", "--checkpoint", model, "--prompts", prompts.path, "--out",
                                           dir.appendingPathComponent("replies-2.jsonl").path])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("exists; pass --force"), again.stderr)
    }

    func testChatTakesSeveralTurnsFromStdin() throws {
        let r = try CommandRunner.run(["chat", "--checkpoint", model, "--max-tokens", "4", "--temperature", "0"],
                                      stdin: "hello\nand then?\n")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(r.stdout.isEmpty)
    }

    func testEvalLossOnTextAndChatFiles() throws {
        let text = dir.appendingPathComponent("eval.txt")
        try "The cat sat on the mat.\n\nA second row.\n".write(to: text, atomically: true, encoding: .utf8)
        let r = try CommandRunner.run(["eval", "loss", "--checkpoint", model, "--data", text.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let loss = json["loss"] as! Double, perplexity = json["perplexity"] as! Double
        XCTAssertEqual(json["rows"] as? Int, 2)
        XCTAssertEqual(perplexity, exp(loss), accuracy: 1e-6 * perplexity)
        // A random model predicts about uniformly: loss near log(vocab).
        XCTAssertEqual(loss, log(4096), accuracy: 0.5)

        let chat = dir.appendingPathComponent("eval.jsonl")
        try """
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello there"}]}
        {"messages": [{"role": "user", "content": "2+2?"}, {"role": "model", "content": "4"}, {"role": "user", "content": "ok"}]}
        """.write(to: chat, atomically: true, encoding: .utf8)
        let c = try CommandRunner.run(["eval", "loss", "--checkpoint", model, "--data", chat.path, "--format", "chat"])
        XCTAssertEqual(c.status, 0, c.stderr)
        let cj = try JSONSerialization.jsonObject(with: Data(c.stdout.utf8)) as! [String: Any]
        XCTAssertGreaterThan(cj["tokens"] as! Int, 0)
    }

    func testBadRowsAreOneLineErrorsNamingFileAndLine() throws {
        let bad = dir.appendingPathComponent("bad.jsonl")
        try "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"model\", \"content\": \"b\"}]}\n{\"messages\": [{\"role\": \"model\", \"content\": \"b\"}]}\n"
            .write(to: bad, atomically: true, encoding: .utf8)
        let r = try CommandRunner.run(["eval", "loss", "--checkpoint", model, "--data", bad.path, "--format", "chat"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.hasPrefix("error: \(bad.path):2:"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        let missing = try CommandRunner.run(["generate", "--checkpoint", dir.appendingPathComponent("nope.h5").path, "--prompt", "x"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("nope.h5"), missing.stderr)
    }

    func testConvertRoundTripThroughHuggingFaceLayout() throws {
        let h5 = dir.appendingPathComponent("mha.h5").path, hf = dir.appendingPathComponent("mha-hf").path
        let a = try CommandRunner.run(["convert", "--from", "\(CommandRunner.hfFixtures)/mha", "--to", h5])
        XCTAssertEqual(a.status, 0, a.stderr)
        let b = try CommandRunner.run(["convert", "--from", h5, "--to", hf, "--dtype", "bf16"])
        XCTAssertEqual(b.status, 0, b.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: hf + "/model.safetensors"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: hf + "/config.json"))
    }

    func testTokenizePrintsSentencePieceIds() throws {
        let r = try CommandRunner.run(["tokenize", "--tokenizer", CommandRunner.tokenizer, "--bos", "Hello world"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let ids = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [Int]
        XCTAssertEqual(ids.first, 2)
        XCTAssertGreaterThan(ids.count, 1)
    }
}
