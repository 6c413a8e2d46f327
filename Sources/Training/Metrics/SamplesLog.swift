import Checkpoint
import Foundation

/// `<run dir>/samples.jsonl`: what an online RL run's policy writes, so a user can read what it is
/// learning (and spot reward hacking). One line per logged step:
///
///     {"step":10,"rollout":10,"prompts":[{"index":17,"prompt":"<bos><start_of_turn>user\n...",
///      "completions":[{"text":"...","score":1.25,"advantage":0.4,"tokens":23,"closed":true}, ...]}, ...]}
///
/// Like `metrics.jsonl`, a resumed run first removes the lines of steps after its checkpoint.
public final class SamplesLog {
    public static let fileName = "samples.jsonl"
    public let url: URL
    private var file: AppendFile?
    private var resumedStep = 0

    /// A completion as logged.
    struct Completion: Encodable {
        let text: String
        let score: Double, advantage: Double
        let tokens: Int
        let closed: Bool
    }

    /// A prompt (its index in the training file) with its completions.
    struct Prompt: Encodable {
        let index: Int
        let prompt: String
        let completions: [Completion]
    }

    private struct Body: Encodable {
        let rollout: Int
        let prompts: [Prompt]
    }

    public init(directory: URL) {
        url = directory.appendingPathComponent(Self.fileName)
    }

    /// Where the file continues: lines of steps after `step` (all of them on a fresh start, `step` 0:
    /// an earlier attempt's) are removed before the first append.
    func open(resumingAfter step: Int) {
        resumedStep = step
    }

    func append(step: Int, rollout: Int, prompts: [Prompt]) throws {
        if file == nil {
            try MetricsLog.cutTail(url.path, after: resumedStep)
            file = try AppendFile(path: url.path)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = String(decoding: try encoder.encode(Body(rollout: rollout, prompts: prompts)), as: UTF8.self)
        // `step` first: the key the resume cut reads.
        try file!.write(Array(("{\"step\":\(step)," + body.dropFirst() + "\n").utf8))
    }
}
