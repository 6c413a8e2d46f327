import Foundation
import XCTest

/// `gemma-train rl` as a user runs it: the metrics and samples it writes, and one line for bad input.
final class RLCommandTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try CommandRunner.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func rl(_ runDir: String, _ extra: [String]) throws -> CommandRunner.Result {
        try CommandRunner.inRoot {
            try CommandRunner.run(["rl", "--config", "Configs/rl-tiny.yaml", "--set", "run.dir=\(dir.path)/\(runDir)"] + CommandRunner.shortRun
                                  + ["--set", "train.steps=2"] + CommandRunner.taskData("rl") + extra)
        }
    }

    func assertError(_ r: CommandRunner.Result, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, 1, r.stderr, file: file, line: line)
        XCTAssertEqual(r.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }.count, 1, r.stderr, file: file, line: line)
        XCTAssertTrue(r.stderr.contains(fragment), "\(fragment) in: \(r.stderr)", file: file, line: line)
    }

    func testRunLogsTheRLMetricsAndSamples() throws {
        let r = try rl("run", ["--set", "rl.log_samples_every=1", "--set", "train.eval_every=2",
                               "--set", "data.eval=Configs/data/prompts-eval.jsonl", "--set", "train.eval_batches=1",
                               "--set", "data.filters=pii,dedup"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("data.filters [pii, dedup]: ") && r.stderr.contains(" out (prompt)"), r.stderr)
        let records = try CommandRunner.records(dir.appendingPathComponent("run"))
        XCTAssertEqual(records.count, 2)
        for key in ["reward", "reward_std", "kl", "entropy", "completion_length", "completions/clipped_ratio", "clip_ratio",
                    "train_tokens_per_s", "generation_tokens_per_s"] {
            XCTAssertNotNil(records[1][key], key)
        }
        XCTAssertNotNil(records[1]["eval_reward"])
        let length = (records[0]["completion_length"] as! NSNumber).doubleValue
        XCTAssertTrue(length >= 1 && length <= 8, "\(length)")  // rl.max_new_tokens 8
        XCTAssertEqual((records[0]["clip_ratio"] as! NSNumber).doubleValue, 0)  // on-policy: the ratio is 1
        let samples = try String(contentsOf: dir.appendingPathComponent("run/samples.jsonl"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(samples.count, 2)
        let first = try JSONSerialization.jsonObject(with: Data(samples[0].utf8)) as! [String: Any]
        XCTAssertEqual(first["step"] as? Int, 1)
        let prompt = (first["prompts"] as! [[String: Any]])[0]
        XCTAssertTrue((prompt["prompt"] as! String).hasSuffix("<start_of_turn>model\n"))
        XCTAssertEqual((prompt["completions"] as! [Any]).count, 4)
    }

    /// GRPO runs end to end: its KL (k3, in the loss) is never negative.
    func testGRPORuns() throws {
        let r = try rl("grpo", ["--set", "rl.algorithm=grpo", "--set", "rl.generations=2", "--set", "train.steps=3"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let records = try CommandRunner.records(dir.appendingPathComponent("grpo"))
        XCTAssertEqual(records.count, 3)
        XCTAssertEqual((records[0]["kl"] as! NSNumber).doubleValue, 0)  // the policy is the reference at step 1
        XCTAssertTrue(records.allSatisfy { ($0["kl"] as! NSNumber).doubleValue >= 0 })
    }

    /// A resumed run must be judged by the reward model its checkpoint was trained against.
    func testResumeWithAnotherJudgeIsRefused() throws {
        XCTAssertEqual(try rl("judged", []).status, 0)
        let copy = dir.appendingPathComponent("other-judge.h5")
        try FileManager.default.copyItem(atPath: CommandRunner.rlModels.reward, toPath: copy.path)
        let r = try rl("judged", ["--set", "train.steps=4", "--resume", "auto", "--set", "rl.reward_model=\(copy.path)"])
        assertError(r, "rl.reward_model is \(copy.path) but the checkpoint")
    }

    func testBadInputIsOneLine() throws {
        let (policy, reward) = CommandRunner.rlModels
        assertError(try rl("reward-policy", ["--init", reward]), "is a reward model; rl trains a causal language model")
        assertError(try rl("lm-judge", ["--set", "rl.reward_model=\(policy)"]),
                    "rl.reward_model \(policy) is a causal language model; the judge must be a reward model")
        let otherTokenizer = dir.appendingPathComponent("other.h5").path
        XCTAssertEqual(try CommandRunner.run(["init-model", "--preset", "tiny", "--tokenizer", CommandRunner.tokenizer,
                                              "--out", otherTokenizer]).status, 0)
        assertError(try rl("tokenizers", ["--init", otherTokenizer, "--set", "tokenizer.path=null"]),
                    "stores another tokenizer than the policy's")
        let prompts = dir.appendingPathComponent("prompts.jsonl")
        try Data("""
            {"prompt": "hello"}
            {"prompt": [{"role": "user", "content": "hi"}, {"role": "model", "content": "hello"}]}
            """.utf8).write(to: prompts)
        assertError(try rl("last-turn", ["--set", "data.train=\(prompts.path)"]),
                    "\(prompts.path):2: the prompt's last message must be a user turn, not \"model\"")
        assertError(try rl("generations", ["--set", "rl.generations=1"]), "rl.generations: must be >= 2 with rloo")
        assertError(try rl("temperature", ["--set", "rl.temperature=0"]), "rl.temperature")
        assertError(try rl("tokens", ["--set", "rl.max_new_tokens=0"]), "rl.max_new_tokens: must be > 0")
        assertError(try rl("no-judge", ["--set", "rl.reward_model=null"]), "rl.reward_model is not set")
        let noInit = try CommandRunner.inRoot {
            try CommandRunner.run(["rl", "--config", "Configs/rl-tiny.yaml", "--set", "run.dir=\(dir.path)/no-init",
                                   "--set", "rl.reward_model=\(reward)"] + CommandRunner.shortRun)
        }
        assertError(noInit, "rl needs model.init")
    }
}
