import Foundation
import XCTest

/// `gemma-train dpo` and `eval dpo` as a user runs them: bad input gets one line, a policy equal to its
/// reference scores ln 2 and no preference.
final class DPOCommandTests: TinyModelTestCase {
    func dpo(_ runDir: String, _ extra: [String]) throws -> CommandRunner.Result {
        try CommandRunner.inRoot {
            try CommandRunner.run(["dpo", "--config", "Configs/dpo-tiny.yaml", "--set", "run.dir=\(dir.path)/\(runDir)",
                                   "--set", "model.preset=null", "--set", "tokenizer.path=null"] + CommandRunner.shortRun
                                  + ["--set", "train.steps=2"] + extra)
        }
    }

    func pairs(_ name: String, _ lines: [String]) throws -> String {
        let url = dir.appendingPathComponent(name)
        try lines.joined(separator: "\n").write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func assertError(_ r: CommandRunner.Result, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, 1, r.stderr, file: file, line: line)
        XCTAssertTrue(r.stderr.split(separator: "\n").last?.hasPrefix("error: ") == true, r.stderr, file: file, line: line)
        XCTAssertTrue(r.stderr.contains(fragment), "\(fragment) in: \(r.stderr)", file: file, line: line)
    }

    func testBadPairsAndModelsAreOneLine() throws {
        let good = (0..<8).map { #"{"prompt": "say \#($0)", "chosen": "yes \#($0)", "rejected": "no \#($0)"}"# }
        let same = try pairs("same.jsonl", good + [#"{"prompt": "x", "chosen": "same", "rejected": "same"}"#])
        let run = try dpo("same", ["--init", model, "--set", "data.train=\(same)", "--set", "data.eval=null"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stderr.contains("9 examples -> 8 rows") && run.stderr.contains("1 pairs with chosen = rejected skipped"),
                      run.stderr)

        let empty = try pairs("empty.jsonl", good + [#"{"prompt": "x", "chosen": "  ", "rejected": "no"}"#])
        assertError(try dpo("empty", ["--init", model, "--set", "data.train=\(empty)", "--set", "data.eval=null"]),
                    "\(empty):9: chosen: empty reply")

        let train = try pairs("good.jsonl", good)
        let reward = dir.appendingPathComponent("reward").path
        let trained = try CommandRunner.inRoot {
            try CommandRunner.run(["reward", "--config", "Configs/reward-tiny.yaml", "--set", "run.dir=\(reward)"]
                                  + CommandRunner.shortRun + ["--set", "train.steps=2"])
        }
        XCTAssertEqual(trained.status, 0, trained.stderr)
        let rewardModel = reward + "/ckpt-00000002.h5"
        assertError(try dpo("reward-policy", ["--init", rewardModel, "--set", "data.train=\(train)", "--set", "data.eval=null"]),
                    "is a reward model; dpo trains a causal language model")
        assertError(try dpo("reward-reference", ["--init", model, "--set", "data.train=\(train)", "--set", "data.eval=null",
                                                 "--set", "dpo.reference=\(rewardModel)"]),
                    "dpo.reference \(rewardModel) is a reward model")
        // Another architecture as the reference: the first differing key is named.
        let other = dir.appendingPathComponent("other.json")
        try Data("""
            {"vocab_size": 4096, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1,
             "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 16, "max_position_embeddings": 512}
            """.utf8).write(to: other)
        let otherModel = dir.appendingPathComponent("other.h5").path
        XCTAssertEqual(try CommandRunner.run(["init-model", "--config", other.path, "--tokenizer", CommandRunner.tokenizer,
                                              "--out", otherModel]).status, 0)
        assertError(try dpo("other-reference", ["--init", model, "--set", "data.train=\(train)", "--set", "data.eval=null",
                                                "--set", "dpo.reference=\(otherModel)"]),
                    "dpo.reference \(otherModel) differs from the policy: ")
        assertError(try CommandRunner.run(["eval", "dpo", "--policy", model, "--reference", rewardModel, "--data", train]),
                    "\(rewardModel) is a reward model")
    }

    /// A policy scored against itself: every d is 0, so the loss is ln 2 (sigmoid), 1/(2β)² (IPO), and no
    /// chosen reward is strictly greater.
    func testPolicyAgainstItselfScoresNoPreference() throws {
        let data = CommandRunner.root.appendingPathComponent("Configs/data/preferences-eval.jsonl").path
        for (loss, expected) in [("sigmoid", log(2.0)), ("ipo", pow(1 / (2 * 0.1), 2))] {
            let r = try CommandRunner.run(["eval", "dpo", "--policy", model, "--reference", model, "--data", data, "--loss", loss])
            XCTAssertEqual(r.status, 0, r.stderr)
            let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            XCTAssertEqual(json["loss"] as! Double, expected, accuracy: 1e-5 * expected, loss)
            XCTAssertEqual(json["rewards_accuracy"] as? Double, 0)
            XCTAssertEqual(json["rewards_margin"] as? Double, 0)
            XCTAssertGreaterThan(json["pairs"] as! Int, 100)
        }
    }
}
