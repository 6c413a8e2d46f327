import Autograd
import Checkpoint
import Datasets
import Foundation
import Gemma

/// Online RL against a reward model: RLOO or GRPO with PPO's clipped ratio (Docs/Alignment.md).
///
/// Every `rl.iterations` steps it rolls out: this data rank's prompts of the next global batch, `K`
/// completions each, all decoded together as one batch (``BatchGenerator``) from seeds that are a function
/// of (run seed, rollout, prompt index, sample) only; the reward model scores each completion closed with
/// `<end_of_turn>\n` at its last token (less `rl.missing_eos_penalty` for one that never closed its turn);
/// the frozen reference scores its tokens. Each step then takes one gradient of ``clippedPolicyLoss(logps:old:reference:advantages:mask:epsilon:beta:normalizer:)``
/// over the rollout, normalised by the completion tokens of the whole global batch:
/// - `rloo`: reward = score − β·Σ_t (log π_old − log π_ref) (k1), advantage = reward − the mean of the
///   prompt's other `K − 1` rewards (``PolicyAdvantages/leaveOneOut(_:groupSize:)``);
/// - `grpo`: advantage = (score − group mean) / (group std + 1e-4), and β·k3 per token in the loss.
///
/// Logged: `reward` (mean score), `reward_std`, `kl` (per completion token: k1 for rloo, k3 for grpo),
/// `entropy` (of the sampling distributions, per token), `completion_length`, `completions/clipped_ratio`
/// (never closed), `clip_ratio` (tokens whose ratio clipping cut off), generation and training tokens/s;
/// prompts with their completions and scores go to `samples.jsonl` every `rl.log_samples_every` steps.
public final class PolicyGradientObjective: TrainingObjective {
    let context: ObjectiveContext
    /// The frozen starting weights and the judge (this rank's shards of each). The reference may be the
    /// policy itself when it is a LoRA model whose adapters start at zero: it is then run without them.
    let reference: GemmaModel, rewardModel: GemmaModel
    let prompts: [[Int32]], evalPrompts: [[Int32]]
    /// Prompt indices in the sample order.
    var train: BatchSchedule<Int>
    /// `<end_of_turn>\n`: what closes a reply before the reward model reads it.
    let closing: [Int32]
    let stopTokens: Set<Int32>
    let samples: SamplesLog?
    var rollout: Rollout?

    /// One rollout: this rank's completions of one global batch of prompts, as micro-batches.
    struct Rollout {
        /// 1-based: rollout `n` is drawn at step `(n − 1)·iterations + 1`.
        let number: Int
        var microBatches: [RolloutBatch]
        /// Completion tokens of the whole global batch (the loss's normalizer).
        let globalTokens: Int
        /// Global sums for the step's metrics that do not change over the rollout's iterations.
        let sums: [Double]
        let generationTokensPerSecond: Double
    }

    /// One micro-batch of a rollout: `K` completions of each of its prompts, prompt by prompt.
    struct RolloutBatch {
        let promptIndices: [Int]
        let completions: [BatchGenerator.Completion]
        /// Prompt + completion rows, the completion's tokens predicted.
        let batch: Batch
        /// `[rows * time]` 1 at a completion token.
        let mask: [Float]
        /// Prompt and completion tokens, padding not counted.
        let inputTokens: Int
        /// The reward model's scores, and the penalised ones the advantages start from.
        let scores: [Double], penalised: [Double]
        /// `[rows * time]` the reference's per-token log-probabilities.
        let reference: [Float]
        /// The sampling policy's per-token log-probabilities and the advantages, set by the first
        /// gradient step on the rollout.
        var old: [Float] = [], advantages: [Float] = []

        /// Row `r`'s offset of its first predicted completion token (`prompt length − 1`).
        func completionStart(_ r: Int) -> Int {
            let time = batch.time
            return batch.targets[(r * time)...].firstIndex { $0 != ignoreIndex }! - r * time
        }
    }

    public init(_ context: ObjectiveContext, reference: GemmaModel, rewardModel: GemmaModel) throws {
        self.context = context
        self.reference = reference
        self.rewardModel = rewardModel
        let config = context.config, rl = config.rl
        guard rl.maxNewTokens < config.data.seqLen else {
            throw TrainingError("rl.max_new_tokens (\(rl.maxNewTokens)) must be less than data.seq_len (\(config.data.seqLen)), which holds the prompt and the completion")
        }
        let template = try ChatTemplate(tokenizer: context.tokenizer)
        closing = context.tokenizer.encode(ChatTemplate.endOfTurn + "\n")
        stopTokens = context.tokenizer.stopTokens
        var loaded: [[[Int32]]] = []  // the training prompts, then the evaluation prompts
        let (schedule, _) = try context.loadSplit(format: .prompt) { path -> (rows: any RowSource<Int>, report: DataReport) in
            let read = try TrainingData.prompts(path, template: template, maxLength: config.data.seqLen - rl.maxNewTokens,
                                                overlong: context.overlong, skipBadRows: config.data.skipBadRows)
            loaded.append(read.prompts)
            return (Array(read.prompts.indices), read.report)
        }
        train = schedule
        prompts = loaded[0]
        evalPrompts = loaded.count > 1 ? loaded[1] : []
        let leader = context.mesh?.isLeader ?? true
        samples = leader && rl.logSamplesEvery > 0 ? SamplesLog(directory: URL(fileURLWithPath: config.run.dir)) : nil
    }

    /// Throws a ``TrainingError`` starting with `name` unless `model` is a reward model that reads the
    /// policy's tokens: its stored tokenizer (when it has one) is the policy's.
    public static func checkRewardModel(_ model: GemmaModel, tokenizer: [UInt8]?, named name: String, policyTokenizer: SentencePieceTokenizer) throws {
        guard model.head == .reward else {
            throw TrainingError("\(name) is a causal language model; the judge must be a reward model (a checkpoint of gemma-train reward)")
        }
        if let tokenizer, tokenizer != [UInt8](policyTokenizer.modelData) {
            throw TrainingError("\(name) stores another tokenizer than the policy's: it would score other tokens than the policy writes")
        }
        guard model.config.vocabSize >= policyTokenizer.vocabularySize else {
            throw TrainingError("\(name) has vocab_size \(model.config.vocabSize), fewer than the policy tokenizer's \(policyTokenizer.vocabularySize) pieces")
        }
    }

    public var trainingRows: Int { prompts.count }
    public var headlineMetrics: [String] { ["reward", "kl"] }
    public var batchUnit: String { "prompts x \(context.config.rl.generations) completions" }

    /// On resume: the reward model and reference must be those the checkpoint's run used, and
    /// `samples.jsonl` loses the entries written after the checkpoint.
    public func prepare(resumingFrom checkpoint: CheckpointReader?) throws {
        let rl = context.config.rl
        if let checkpoint, let state = checkpoint.state {
            let recorded = try RunConfig.parse(yaml: state.runConfig, file: "\(checkpoint.path) (run_config)")
            for (key, mine, theirs) in [("rl.reward_model", rl.rewardModel, recorded.rl.rewardModel),
                                        ("model.init", context.config.model.initFrom, recorded.model.initFrom)] where mine != theirs {
                throw TrainingError("\(key) is \(mine ?? "null") but the checkpoint \(checkpoint.path) was trained against \(theirs ?? "null"): "
                                    + "resume with the same \(key == "model.init" ? "reference (model.init)" : "reward model")")
            }
        }
        samples?.open(resumingAfter: checkpoint?.state?.step ?? 0)
        if let checkpoint, let step = checkpoint.state?.step, step % rl.iterations != 0 {
            rollout = try restoreRollout(from: checkpoint, step: step)
        }
    }

    // A checkpoint inside a rollout (`rl.iterations` > 1, a step that is not the rollout's last) keeps the
    // rollout, so that the resumed run trains on the same completions against the same sampling policy:
    // per sequence of the global batch (prompt slot `p` of the step's `P`, sample `k`: sequence `p·K + k`),
    // its sampled tokens (id + 1, 0 after the end), whether it closed its turn, its entropies, the sampling
    // policy's log-probabilities of its tokens (`[P·K·max_new_tokens]` each) and its advantage (`[P·K]`).
    // Scores and the reference's log-probabilities are computed again from the same models.
    static let rolloutNames = ["rollout_tokens", "rollout_closed", "rollout_entropies", "rollout_old_logps", "rollout_advantages"]

    /// This data rank's first prompt slot in a step's global batch (``BatchSchedule/microBatches(step:)``).
    var firstSlot: Int { context.dataRank * (context.config.train.batchSize / context.dataParallel) }

    public func checkpointTensors(step: Int) throws -> [(name: String, values: [Float])] {
        let rl = context.config.rl
        guard step % rl.iterations != 0, let rollout else { return [] }
        let (k, width) = (rl.generations, rl.maxNewTokens)
        let sequences = context.config.train.batchSize * k
        var tokens = [Double](repeating: 0, count: sequences * width), closed = [Double](repeating: 0, count: sequences)
        var entropies = tokens, old = tokens, advantages = closed
        var g = firstSlot * k  // the global sequence index
        for b in rollout.microBatches {
            let time = b.batch.time
            for (r, c) in b.completions.enumerated() {
                let start = b.completionStart(r)
                for (j, token) in c.sampled.enumerated() {
                    tokens[g * width + j] = Double(token) + 1
                    old[g * width + j] = Double(b.old[r * time + start + j])
                }
                for (j, e) in c.entropies.enumerated() { entropies[g * width + j] = Double(e) }
                closed[g] = c.stopToken == nil ? 0 : 1
                advantages[g] = Double(b.advantages[r])
                g += 1
            }
        }
        let global = try context.sumOverData(tokens + closed + entropies + old + advantages)
        var offset = 0
        return zip(Self.rolloutNames, [tokens.count, closed.count, entropies.count, old.count, advantages.count]).map { name, count in
            defer { offset += count }
            return (name, global[offset..<(offset + count)].map(Float.init))
        }
    }

    /// This rank's part of the rollout a checkpoint at `step` kept (``checkpointTensors(step:)``).
    func restoreRollout(from checkpoint: CheckpointReader, step: Int) throws -> Rollout {
        let rl = context.config.rl
        let (k, width, number) = (rl.generations, rl.maxNewTokens, (step - 1) / rl.iterations + 1)
        let sequences = context.config.train.batchSize * k
        var values: [[Float]] = []
        for (name, count) in zip(Self.rolloutNames, [sequences * width, sequences, sequences * width, sequences * width, sequences]) {
            let (shape, read) = try checkpoint.read(.objective, name: name)
            guard shape == [count] else {
                throw TrainingError("\(checkpoint.path): \(TensorGroup.objective.dataset(name)) has shape \(shape), this run's rollout needs "
                                    + "[\(count)] (train.batch_size x rl.generations x rl.max_new_tokens changed since the checkpoint)")
            }
            values.append(read)
        }
        let (tokens, closed, entropies, old, advantages) = (values[0], values[1], values[2], values[3], values[4])
        let microBatches = train.microBatches(step: number)
        let completions = (0..<(microBatches.joined().count * k)).map { i -> BatchGenerator.Completion in
            let g = firstSlot * k + i
            var sampled = tokens[(g * width)..<((g + 1) * width)].prefix { $0 > 0 }.map { Int32($0) - 1 }
            let stop = closed[g] != 0 ? sampled.popLast() : nil
            let count = sampled.count + (stop == nil ? 0 : 1)
            return BatchGenerator.Completion(tokens: sampled, stopToken: stop, entropies: Array(entropies[(g * width)..<(g * width + count)]))
        }
        var restored = try assemble(number, microBatches, completions, seconds: 0)
        var g = firstSlot * k
        for i in restored.microBatches.indices {
            let b = restored.microBatches[i], time = b.batch.time
            var logps = [Float](repeating: 0, count: b.mask.count), rowAdvantages = [Float]()
            for (r, c) in b.completions.enumerated() {
                let start = b.completionStart(r)
                for j in c.sampled.indices { logps[r * time + start + j] = old[g * width + j] }
                rowAdvantages.append(advantages[g])
                g += 1
            }
            restored.microBatches[i].old = logps
            restored.microBatches[i].advantages = rowAdvantages
        }
        context.log("restored rollout \(number) (\(completions.count) completions on this rank) from \(checkpoint.path)")
        return restored
    }

    /// The sampling options of sample `k` of prompt `index` in rollout `number`.
    func sampling(_ number: Int, _ index: Int, _ k: Int) -> SamplingOptions {
        let rl = context.config.rl
        return SamplingOptions(temperature: Float(rl.temperature), topP: rl.topP < 1 ? Float(rl.topP) : nil,
                               seed: UInt64(context.config.run.seed), vocabularyLimit: context.tokenizer.vocabularySize)
            .seeded(by: number, index, k)
    }

    /// Samples `K` completions of each prompt of rollout `number` on this rank, scores them and takes the
    /// reference's log-probabilities.
    func rollOut(_ number: Int) throws -> Rollout {
        let k = context.config.rl.generations
        let microBatches = train.microBatches(step: number)
        let indices = microBatches.flatMap { $0 }.flatMap { i in (0..<k).map { _ in i } }  // each prompt K times
        let options = microBatches.flatMap { $0 }.flatMap { i in (0..<k).map { sampling(number, i, $0) } }
        let start = ContinuousClock.now
        let completions = try withNoGrad {
            try BatchGenerator.sample(context.model, prompts: indices.map { prompts[$0] }, options: options, stopTokens: stopTokens,
                                      maxTokens: context.config.rl.maxNewTokens, measuringEntropy: true)
        }
        return try assemble(number, microBatches, completions, seconds: (ContinuousClock.now - start).seconds)
    }

    /// Rollout `number` of `completions` (`K` per prompt of `microBatches`, in order): scored, with the
    /// global sums its steps log (one reduction over `data`). `seconds`: how long sampling took.
    func assemble(_ number: Int, _ microBatches: [[Int]], _ completions: [BatchGenerator.Completion], seconds: Double) throws -> Rollout {
        let k = context.config.rl.generations
        var batches: [RolloutBatch] = [], offset = 0
        for promptIndices in microBatches {
            let range = offset..<(offset + promptIndices.count * k)
            offset = range.upperBound
            batches.append(score(promptIndices, Array(completions[range])))
        }
        let local = Self.rolloutSums(batches) + [Double(completions.reduce(0) { $0 + $1.sampled.count }), seconds]
        let global = try context.sumOverData(local)
        let generated = global[global.count - 2], meanSeconds = global[global.count - 1] / Double(context.dataParallel)
        return Rollout(number: number, microBatches: batches, globalTokens: Int(global[RolloutSum.completionTokens.rawValue]),
                       sums: Array(global.dropLast(2)), generationTokensPerSecond: generated / max(meanSeconds, 1e-9))
    }

    /// The rollout's figures summed over this rank's completions, indexed by ``RolloutSum``.
    enum RolloutSum: Int, CaseIterable {
        case completions, completionTokens, inputTokens, score, scoreSquared, entropy, entropyTokens, unclosed
    }

    static func rolloutSums(_ batches: [RolloutBatch]) -> [Double] {
        var s = [Double](repeating: 0, count: RolloutSum.allCases.count)
        for b in batches {
            s[RolloutSum.completions.rawValue] += Double(b.completions.count)
            s[RolloutSum.completionTokens.rawValue] += b.mask.reduce(0) { $0 + Double($1) }
            s[RolloutSum.inputTokens.rawValue] += Double(b.inputTokens)
            for (c, score) in zip(b.completions, b.scores) {
                s[RolloutSum.score.rawValue] += score
                s[RolloutSum.scoreSquared.rawValue] += score * score
                s[RolloutSum.entropy.rawValue] += c.entropies.reduce(0) { $0 + Double($1) }
                s[RolloutSum.entropyTokens.rawValue] += Double(c.entropies.count)
                s[RolloutSum.unclosed.rawValue] += c.stopToken == nil ? 1 : 0
            }
        }
        return s
    }

    /// Scores `completions` (`K` per prompt of `promptIndices`, in order) with the reward model and the
    /// reference.
    func score(_ promptIndices: [Int], _ completions: [BatchGenerator.Completion]) -> RolloutBatch {
        let k = context.config.rl.generations
        let sequencePrompts = promptIndices.flatMap { i in (0..<k).map { _ in prompts[i] } }
        let batch = CompletionBatch.make(prompts: sequencePrompts, completions: completions.map(\.sampled), padId: context.padId)
        return withNoGrad {
            let scores = judge(sequencePrompts, completions)
            let penalty = context.config.rl.missingEosPenalty
            let score = { (model: GemmaModel) in model.tokenLogProbs(ids: batch.ids, targets: batch.targets, batch: batch.rows, positions: batch.positions) }
            let frozen = self.reference
            let referenceLogps = frozen === context.model ? frozen.withoutAdapters { score(frozen) } : score(frozen)
            return RolloutBatch(promptIndices: promptIndices, completions: completions, batch: batch,
                                mask: batch.targets.map { $0 == -100 ? 0 : 1 },
                                inputTokens: zip(sequencePrompts, completions).reduce(0) { $0 + $1.0.count + $1.1.sampled.count }, scores: scores,
                                penalised: zip(scores, completions).map { $0 - ($1.stopToken == nil ? penalty : 0) },
                                reference: referenceLogps.scalars)
        }
    }

    /// The reward model's scores of `completions` after `prompts`: each reply is read as a closed model
    /// turn (`<end_of_turn>\n` appended), as in the judge's training pairs, at its last token.
    func judge(_ prompts: [[Int32]], _ completions: [BatchGenerator.Completion]) -> [Double] {
        let judged = zip(prompts, completions).map { $0 + $1.tokens + closing }
        let time = judged.map(\.count).max() ?? 1
        let ids = judged.flatMap { $0 + [Int32](repeating: context.padId, count: time - $0.count) }  // [S * time]
        let last = judged.enumerated().map { Int32($0 * time + $1.count - 1) }
        return withNoGrad { rewardModel.rewards(ids: ids, sequences: judged.count, lastTokens: last).scalars.map(Double.init) }
    }

    /// The advantages of `b`'s completions given the sampling policy's log-probabilities `old`.
    func advantages(_ b: RolloutBatch, old: [Float]) -> [Float] {
        let rl = context.config.rl
        switch rl.algorithm {
        case .rloo:
            let rewards = PolicyAdvantages.klPenalized(b.penalised, old: old, reference: b.reference, mask: b.mask, time: b.batch.time,
                                                       beta: rl.klCoefficient)
            return PolicyAdvantages.leaveOneOut(rewards, groupSize: rl.generations).map(Float.init)
        case .grpo:
            return PolicyAdvantages.groupNormalized(b.penalised, groupSize: rl.generations).map(Float.init)
        }
    }

    public func step(_ step: Int) throws -> StepResult {
        let rl = context.config.rl
        let number = (step - 1) / rl.iterations + 1
        var generated: Double?
        if rollout?.number != number {
            rollout = try rollOut(number)
            generated = rollout!.generationTokensPerSecond
        }
        var r = rollout!
        let start = ContinuousClock.now
        var lossShare = 0.0, k1 = 0.0
        var counts = PolicyLossCounts()
        for i in r.microBatches.indices {
            let b = r.microBatches[i]
            let logps = context.model.tokenLogProbs(ids: b.batch.ids, targets: b.batch.targets, batch: b.batch.rows,
                                                    positions: b.batch.positions)  // [rows, time]
            if b.old.isEmpty {  // the rollout's first step: on-policy
                r.microBatches[i].old = logps.scalars
                r.microBatches[i].advantages = advantages(b, old: r.microBatches[i].old)
            }
            let m = r.microBatches[i]
            let grpo = rl.algorithm == .grpo
            let (loss, c) = clippedPolicyLoss(logps: logps, old: m.old, reference: m.reference, advantages: m.advantages, mask: m.mask,
                                              epsilon: Float(rl.epsilon), beta: grpo ? Float(rl.klCoefficient) : 0,
                                              normalizer: Float(r.globalTokens))
            loss.backward()
            lossShare += Double(loss.item)
            counts.tokens += c.tokens
            counts.clipped += c.clipped
            counts.kl += c.kl
            for j in m.mask.indices where m.mask[j] != 0 { k1 += Double(m.old[j] - m.reference[j]) }
        }
        rollout = r
        try logSamples(step: step, r)
        let seconds = (ContinuousClock.now - start).seconds
        let global = try context.sumOverData([context.injected(lossShare, step: step), Double(counts.clipped),
                                              rl.algorithm == .grpo ? counts.kl : k1, seconds])
        let s = r.sums
        func sum(_ key: RolloutSum) -> Double { s[key.rawValue] }
        let n = sum(.completions), tokens = sum(.completionTokens)
        let mean = sum(.score) / n
        var metrics: [(String, Double)] = [
            ("reward", mean),
            ("reward_std", n > 1 ? max(0, (sum(.scoreSquared) - n * mean * mean) / (n - 1)).squareRoot() : 0),
            ("kl", global[2] / max(tokens, 1)),
            ("entropy", sum(.entropy) / max(sum(.entropyTokens), 1)),
            ("completion_length", tokens / n),
            ("completions/clipped_ratio", sum(.unclosed) / n),
            ("clip_ratio", global[1] / max(tokens, 1)),
            ("train_tokens_per_s", sum(.inputTokens) / max(global[3] / Double(context.dataParallel), 1e-9)),
        ]
        if let generated { metrics.append(("generation_tokens_per_s", generated)) }
        return StepResult(loss: global[0], tokens: Int(sum(.inputTokens)), metrics: metrics)
    }

    /// At step 1 and every `rl.log_samples_every` steps, rank 0's first prompts (up to 4) with their
    /// completions, scores and advantages, to `samples.jsonl`.
    func logSamples(step: Int, _ r: Rollout) throws {
        guard let samples, step == 1 || step % context.config.rl.logSamplesEvery == 0, let b = r.microBatches.first else { return }
        let k = context.config.rl.generations, tokenizer = context.tokenizer
        let entries = b.promptIndices.prefix(4).enumerated().map { p, index in
            SamplesLog.Prompt(index: index, prompt: tokenizer.decode(prompts[index]), completions: (0..<k).map { j in
                let c = b.completions[p * k + j]
                return SamplesLog.Completion(text: tokenizer.decode(c.tokens), score: b.scores[p * k + j],
                                             advantage: Double(b.advantages[p * k + j]), tokens: c.sampled.count, closed: c.stopToken != nil)
            })
        }
        try samples.append(step: step, rollout: r.number, prompts: entries)
    }

    /// `eval_reward` (the mean score of one completion per evaluation prompt, drawn from fixed seeds so
    /// that evaluations compare) and `eval_completion_length`.
    public func evaluate() throws -> [(String, Double)]? {
        guard !evalPrompts.isEmpty else { return nil }
        var sums = [0.0, 0.0, 0.0]  // score, completion tokens, completions
        for chunk in context.evaluationChunks(count: evalPrompts.count) {
            let completions = try withNoGrad {
                try BatchGenerator.sample(context.model, prompts: chunk.map { evalPrompts[$0] }, options: chunk.map { sampling(0, $0, 0) },
                                          stopTokens: stopTokens, maxTokens: context.config.rl.maxNewTokens)
            }
            sums[0] += judge(chunk.map { evalPrompts[$0] }, completions).reduce(0, +)
            sums[1] += Double(completions.reduce(0) { $0 + $1.sampled.count })
            sums[2] += Double(completions.count)
        }
        let total = try context.sumOverData(sums)
        return [("eval_reward", total[0] / total[2]), ("eval_completion_length", total[1] / total[2])]
    }
}
