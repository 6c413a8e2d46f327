import Gemma

/// A preference pair as preference optimisation (DPO) reads it: one prompt and two completions.
///
/// The prompt is the dialogue rendered in the turn format up to and including `<start_of_turn>model\n`
/// (with `<bos>`); a completion is what SFT predicts for a model turn: the reply, `<end_of_turn>` and the
/// newline, its text tokenized on its own as TRL's `DPOTrainer` does (so a first token never merges with
/// the prompt's last). The policy scores a completion by the summed log-probabilities of its tokens
/// given the prompt.
public struct CompletionPair: Sendable, Equatable {
    public var prompt: [Int32]
    public var chosen: [Int32], rejected: [Int32]

    public init(prompt: [Int32], chosen: [Int32], rejected: [Int32]) {
        self.prompt = prompt
        self.chosen = chosen
        self.rejected = rejected
    }

    /// `prompt + completion`, each position predicting the next token when that token is part of the
    /// completion (-100 elsewhere).
    public static func example(prompt: [Int32], completion: [Int32]) -> Example {
        let ids = prompt + completion
        let targets = ids.indices.map { t in t + 1 < ids.count && t + 1 >= prompt.count ? ids[t + 1] : -100 }
        return Example(ids: ids, targets: targets)
    }

    /// The chosen and the rejected sequence.
    public var examples: (chosen: Example, rejected: Example) {
        (Self.example(prompt: prompt, completion: chosen), Self.example(prompt: prompt, completion: rejected))
    }
}

/// A micro-batch of completion pairs: the chosen sequences of its `pairs` pairs, then their rejected
/// sequences, as `2·pairs` rows right-padded to the longest (causal attention keeps padding out of the
/// real tokens), with only completion tokens predicted.
public enum CompletionBatch {
    /// `pairs` as one ``Batch`` of `2·pairs.count` rows: chosen rows first, then rejected rows.
    public static func make(_ pairs: [CompletionPair], padId: Int32) -> Batch {
        let sides = pairs.map(\.examples)
        return make(sides.map(\.chosen) + sides.map(\.rejected), padId: padId)
    }

    /// `prompts[i] + completions[i]` as one ``Batch`` of rows, only the completion tokens predicted.
    public static func make(prompts: [[Int32]], completions: [[Int32]], padId: Int32) -> Batch {
        make(zip(prompts, completions).map { CompletionPair.example(prompt: $0, completion: $1) }, padId: padId)
    }

    static func make(_ examples: [Example], padId: Int32) -> Batch {
        let time = examples.map(\.ids.count).max() ?? 1
        let rows = Packer(seqLen: time, padId: padId, mode: .single, overlong: .truncate).pack(examples).rows
        return Batch(rows, time: time)
    }
}

extension TrainingData {
    /// Preference rows (`{"prompt": str | messages, "chosen": str | messages, "rejected": str | messages}`,
    /// the reward model's format) as completion pairs. A pair whose chosen and rejected completions are the
    /// same tokens teaches nothing: it is skipped and counted (`identicalPairs`) unless `keepIdentical` (for
    /// scoring every row); an empty reply is a bad row.
    /// Pairs whose longer sequence exceeds `seqLen` are handled by `overlong`: `truncate` drops prompt tokens from the left (after `<bos>`), keeping both
    /// completions whole (a pair whose completion alone does not fit is dropped); `drop` drops the pair.
    /// Both are counted in the report.
    public static func completionPairs(_ path: String, template: ChatTemplate, seqLen: Int, overlong: Packer.Overlong,
                                       skipBadRows: Bool, keepIdentical: Bool = false) throws -> (pairs: [CompletionPair], report: DataReport) {
        var identical = 0
        var result = try preferenceRows(path, skipBadRows: skipBadRows) { line, row, truncated, dropped -> CompletionPair? in
            let history = row.prompt.messages(role: .user)
            func fail(_ message: String) -> DataError { DataError(file: path, line: line, message: message) }
            let prompt: [Int32], promptText: String
            do {
                prompt = try template.encode(history, addGenerationPrompt: true).ids
                promptText = try template.render(history, addGenerationPrompt: true).text
            } catch { throw fail("\(error)") }
            // As TRL: the completion's text (the rendered turn after the prompt) is tokenized on its own.
            func completion(_ reply: TextOrMessages, _ key: String) throws -> [Int32] {
                let answer = reply.messages(role: .model)
                guard answer.count == 1, answer[0].role != .user else { throw fail("\(key): give one model reply") }
                let whole: String
                do { whole = try template.render(history + answer).text } catch { throw fail("\(error)") }
                guard whole.hasPrefix(promptText) else { throw fail("\(key): the rendered reply does not extend the prompt") }
                return template.tokenizer.encode(String(whole.dropFirst(promptText.count)))
            }
            for (reply, key) in [(row.chosen, "chosen"), (row.rejected, "rejected")]
            where reply.messages(role: .model).allSatisfy({ ChatTemplate.trim($0.content).isEmpty }) {
                throw fail("\(key): empty reply")
            }
            var pair = CompletionPair(prompt: prompt, chosen: try completion(row.chosen, "chosen"),
                                      rejected: try completion(row.rejected, "rejected"))
            guard keepIdentical || pair.chosen != pair.rejected else {
                identical += 1  // no preference to learn: skipped and counted
                return nil
            }
            let longest = pair.prompt.count + max(pair.chosen.count, pair.rejected.count)
            guard longest > seqLen else { return pair }
            let excess = longest - seqLen
            guard overlong == .truncate, pair.prompt.count - 1 > excess else {
                dropped += 1
                return nil
            }
            pair.prompt.removeSubrange(1...excess)  // keep <bos>, drop the oldest prompt tokens
            truncated += 1
            return pair
        }
        result.report.tokens = result.pairs.reduce(0) { $0 + $1.chosen.count + $1.rejected.count }
        result.report.identicalPairs = identical
        return result
    }
}
