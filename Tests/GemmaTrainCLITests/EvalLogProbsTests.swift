import Foundation
import XCTest

/// `eval logprobs` as a user runs it: per-row sums that add up to what `eval loss` reports, the same in
/// batches as one row at a time, in file order.
final class EvalLogProbsTests: TinyModelTestCase {
    func rows(_ r: CommandRunner.Result) throws -> [[String: Any]] {
        XCTAssertEqual(r.status, 0, r.stderr)
        return try r.stdout.split(separator: "\n").map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    /// Text and chat: minus the summed log-probabilities over the summed tokens is `eval loss`'s loss (1e-6
    /// relative), with the same token count; `--batch 1` and `--batch 3` give each row the same value
    /// (padding changes nothing; 1e-5 relative).
    func testSumsAgreeWithEvalLossAndDoNotDependOnBatching() throws {
        for (format, file) in [("text", "Configs/data/pretrain-eval.jsonl"), ("chat", "Configs/data/sft-eval.jsonl")] {
            let data = CommandRunner.root.appendingPathComponent(file).path
            let batched = try rows(CommandRunner.run(["eval", "logprobs", "--checkpoint", model, "--data", data, "--format", format,
                                                      "--batch", "3"]))
            let single = try rows(CommandRunner.run(["eval", "logprobs", "--checkpoint", model, "--data", data, "--format", format,
                                                     "--batch", "1"]))
            XCTAssertEqual(batched.count, single.count)
            for (a, b) in zip(batched, single) {
                let (x, y) = (a["logp"] as! Double, b["logp"] as! Double)
                XCTAssertEqual(x, y, accuracy: 1e-5 * abs(y), format)
                XCTAssertEqual(a["tokens"] as? Int, b["tokens"] as? Int)
            }
            let loss = try CommandRunner.run(["eval", "loss", "--checkpoint", model, "--data", data, "--format", format])
            XCTAssertEqual(loss.status, 0, loss.stderr)
            let summary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(loss.stdout.utf8)) as? [String: Any])
            let tokens = batched.reduce(0) { $0 + ($1["tokens"] as! Int) }
            let total = batched.reduce(0.0) { $0 + ($1["logp"] as! Double) }
            XCTAssertEqual(tokens, summary["tokens"] as? Int, format)
            XCTAssertEqual(-total / Double(tokens), summary["loss"] as! Double, accuracy: 1e-6 * (summary["loss"] as! Double), format)
        }
    }

    /// Preference: one object per pair in file order, each completion's token count that of its
    /// `<end_of_turn>`-closed reply, and a pair whose chosen and rejected replies are equal scores equal.
    func testPreferencePairsInFileOrder() throws {
        let data = dir.appendingPathComponent("pairs.jsonl")
        try """
        {"prompt": "hi", "chosen": "hello there", "rejected": "go away"}
        {"prompt": [{"role": "user", "content": "2+2?"}], "chosen": "4", "rejected": "4"}
        """.write(to: data, atomically: true, encoding: .utf8)
        let out = try rows(CommandRunner.run(["eval", "logprobs", "--checkpoint", model, "--data", data.path, "--format", "preference"]))
        XCTAssertEqual(out.count, 2)
        XCTAssertEqual(out[1]["chosen_logp"] as! Double, out[1]["rejected_logp"] as! Double, accuracy: 1e-5)
        XCTAssertEqual(out[1]["chosen_tokens"] as? Int, out[1]["rejected_tokens"] as? Int)
        let tokens = try CommandRunner.run(["tokenize", "--tokenizer", CommandRunner.tokenizer, "hello there<end_of_turn>\n"])
        let ids = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(tokens.stdout.utf8)) as? [Int])
        XCTAssertEqual(out[0]["chosen_tokens"] as? Int, ids.count)
        XCTAssertLessThan(out[0]["chosen_logp"] as! Double, 0)
    }

    /// Under mpirun: data ranks split the pairs and the model axis shards each forward; every row equals
    /// the single process's within 1e-4 absolute, in file order.
    func testOnAMeshEveryRowEqualsOneProcess() throws {
        let data = CommandRunner.root.appendingPathComponent("Configs/data/preferences-eval.jsonl").path
        let arguments = ["eval", "logprobs", "--checkpoint", model, "--data", data, "--format", "preference"]
        let reference = try rows(CommandRunner.run(arguments))
        for mesh in ["data=2,model=1", "data=1,model=2"] {
            let r = try CommandRunner.mpirun(2, arguments + ["--mesh", mesh])
            let out = try rows(r)
            XCTAssertEqual(out.count, reference.count, mesh)
            for (a, b) in zip(out, reference) {
                for key in ["chosen_logp", "rejected_logp"] {
                    XCTAssertEqual(a[key] as! Double, b[key] as! Double, accuracy: 1e-4, "\(mesh) \(key)")
                }
                XCTAssertEqual(a["chosen_tokens"] as? Int, b["chosen_tokens"] as? Int)
            }
        }
    }
}
