import Foundation
import XCTest

/// `eval winrate` as a user runs it: a model against itself ties on every prompt (win rate 0.5 with
/// Wilson's interval for 10 of 20), replies are saved per prompt, and the judge must be a reward model.
final class WinRateTests: TinyModelTestCase {
    func testAModelAgainstItselfTiesWithWilsonsInterval() throws {
        let reward = dir.appendingPathComponent("reward").path
        let trained = try CommandRunner.inRoot {
            try CommandRunner.run(["reward", "--config", "Configs/reward-tiny.yaml", "--set", "run.dir=\(reward)", "--init", model,
                                   "--set", "model.preset=null", "--set", "tokenizer.path=null"]
                                  + CommandRunner.shortRun + ["--set", "train.steps=2"])
        }
        XCTAssertEqual(trained.status, 0, trained.stderr)
        let judge = reward + "/ckpt-00000002.h5"
        let prompts = CommandRunner.root.appendingPathComponent("Configs/data/preferences-eval.jsonl").path
        let save = dir.appendingPathComponent("replies.jsonl").path
        let arguments = ["eval", "winrate", "--policy", model, "--baseline", model, "--judge", judge, "--prompts", prompts,
                         "--samples", "20", "--max-tokens", "8", "--save", save]
        let r = try CommandRunner.run(arguments)
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(json["n"] as? Int, 20)
        XCTAssertEqual(json["ties"] as? Int, 20)
        XCTAssertEqual(json["win_rate"] as? Double, 0.5)
        // Wilson's 95% interval for 10 successes in 20 trials: 0.2993 to 0.7007 (z = 1.96).
        XCTAssertEqual(json["ci95_low"] as! Double, 0.29930, accuracy: 1e-4)
        XCTAssertEqual(json["ci95_high"] as! Double, 0.70070, accuracy: 1e-4)
        XCTAssertEqual(json["mean_reward_policy"] as? Double, json["mean_reward_baseline"] as? Double)
        let lines = try String(contentsOfFile: save, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 20)

        let again = try CommandRunner.run(arguments)
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("--save \(save) exists; pass --force"), again.stderr)
        let wrongJudge = try CommandRunner.run(["eval", "winrate", "--policy", model, "--baseline", model, "--judge", model,
                                                "--prompts", prompts, "--samples", "1"])
        XCTAssertEqual(wrongJudge.status, 1)
        XCTAssertTrue(wrongJudge.stderr.contains("\(model) is a causal language model, not a reward model"), wrongJudge.stderr)
    }
}
