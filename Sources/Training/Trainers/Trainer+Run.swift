import Autograd
import Datasets
import Foundation
import Gemma

extension Trainer {
    /// What a finished run reports.
    public struct Summary: Sendable {
        public var firstLoss: Double, lastLoss: Double
        public var evalLoss: Double?, evalAccuracy: Double?
        public var skippedSteps: Int
        public var checkpoint: String
    }

    /// Trains `train.steps` steps; returns the summary. Only this process writes files (one rank).
    /// - Parameter onStep: called after each step with its number, input tokens and wall seconds.
    @discardableResult
    public func run(onStep: (Int, Int, Double) -> Void = { _, _, _ in }) throws -> Summary {
        let t = config.train
        let metrics = try MetricsLog(directory: runDirectory)
        let events = config.log.tensorboard ? try TensorBoardWriter(directory: runDirectory) : nil
        let progress = ProgressDisplay(totalSteps: t.steps, every: config.log.every, enabled: true)
        let start = ContinuousClock.now
        var tokensSeen = 0, skipped = 0
        var firstLoss: Double?, lastLoss = 0.0
        var lastEval: (loss: Double, accuracy: Double?)?
        log("training \(task.rawValue): \(model.config.parameterCount.total) parameters, \(t.steps) steps of \(t.batchSize) sequences")
        for step in 1...t.steps {
            let stepStart = ContinuousClock.now
            let lr = schedule.rate(at: step)
            model.parameters.zeroGradients()
            let (loss, stepTokens, extra) = forwardBackward(step: step)
            let gradNorm = model.parameters.clipGradients(maxNorm: Float(t.gradClip))
            guard loss.isFinite && gradNorm.isFinite else {
                if t.nanPolicy == .skip {
                    skipped += 1
                    progress.message("step \(step): non-finite loss \(loss) or gradient norm \(gradNorm); step skipped (\(skipped) so far)")
                    continue
                }
                throw TrainingError("step \(step): non-finite loss \(loss) or gradient norm \(gradNorm) (train.nan_policy: abort)")
            }
            optimizer.learningRate = lr
            optimizer.update(model.parameters)
            onStep(step, stepTokens, (ContinuousClock.now - stepStart).seconds)
            tokensSeen += stepTokens
            firstLoss = firstLoss ?? loss
            lastLoss = loss
            var record = StepRecord(
                step: step, loss: Float(loss), lr: lr, gradNorm: Float(gradNorm), tokens: tokensSeen,
                tokensPerSecond: Double(stepTokens) / (ContinuousClock.now - stepStart).seconds,
                elapsedSeconds: (ContinuousClock.now - start).seconds, extra: extra)
            if t.evalEvery > 0 && (step % t.evalEvery == 0 || step == t.steps), let e = evaluate() {
                lastEval = e
                record.extra.append(("eval_loss", e.loss))
                if let a = e.accuracy { record.extra.append(("eval_accuracy", a)) }
            }
            try metrics.append(record)
            try events?.append(record)
            progress.update(record)
            if config.checkpoint.every > 0 && step % config.checkpoint.every == 0 && step < t.steps {
                try saveCheckpoint(step: step)
            }
        }
        progress.finish()
        if lastEval == nil, let e = evaluate() { lastEval = e }
        let path = try saveCheckpoint(step: t.steps)
        try metrics.close()
        try events?.close()
        let summary = Summary(firstLoss: firstLoss ?? .nan, lastLoss: lastLoss, evalLoss: lastEval?.loss,
                              evalAccuracy: lastEval?.accuracy, skippedSteps: skipped, checkpoint: path)
        log("done: loss \(summary.firstLoss) -> \(summary.lastLoss)"
            + (summary.evalLoss.map { ", eval loss \($0)" } ?? "") + (summary.evalAccuracy.map { ", eval accuracy \($0)" } ?? "")
            + "; saved \(path)")
        return summary
    }

    /// Forward and backward of step `step`: its loss, its input tokens and task-specific metrics.
    func forwardBackward(step: Int) -> (loss: Double, tokens: Int, extra: [(String, Double)]) {
        if task == .reward {
            let micro = pairTrain!.microBatches(step: step)
            let pairs = micro.reduce(0) { $0 + $1.count }
            let padId = tokenizer.padId ?? 0
            let batches = micro.map { PreferenceBatch($0, padId: padId) }
            let stats = Steps.reward(model, batches, globalPairs: pairs, margin: Float(config.reward.margin),
                                     centerCoef: Float(config.reward.centerCoef))
            let tokens = batches.reduce(0) { $0 + $1.ids.count }
            return (stats.loss, tokens, [("accuracy", stats.accuracy), ("margin", stats.margin)])
        }
        let micro = lmTrain!.microBatches(step: step).map { rows -> Batch in
            var b = Batch(rows: rows.count, time: config.data.seqLen)
            for r in rows { b.append(r) }
            return b
        }
        let globalTokens = micro.reduce(0) { $0 + $1.tokenCount }
        let (loss, _) = Steps.languageModel(model, micro, globalTokens: globalTokens)
        return (loss, micro.reduce(0) { $0 + $1.ids.count }, [])
    }

    /// Loss (and reward accuracy) on the evaluation data, `train.eval_batches` micro-batches of it (all
    /// when 0), without gradients. Nil without evaluation data.
    func evaluate() -> (loss: Double, accuracy: Double?)? {
        let micro = config.train.microBatchSize
        let limit = config.train.evalBatches > 0 ? config.train.evalBatches * micro : Int.max
        return withNoGrad {
            if task == .reward {
                let pairs = Array(pairEval.prefix(limit))
                guard !pairs.isEmpty else { return nil }
                var loss = 0.0, correct = 0.0
                for start in stride(from: 0, to: pairs.count, by: micro) {
                    let chunk = Array(pairs[start..<min(start + micro, pairs.count)])
                    let b = PreferenceBatch(chunk, padId: tokenizer.padId ?? 0)
                    let r = model.rewardLoss(ids: b.ids, pairs: b.pairs, lastTokens: b.lastTokens,
                                             margin: Float(config.reward.margin), centerCoef: Float(config.reward.centerCoef))
                    loss += Double(r.loss.item) * Double(chunk.count)
                    correct += r.accuracy * Double(chunk.count)
                }
                return (loss / Double(pairs.count), correct / Double(pairs.count))
            }
            let rows = Array(lmEval.prefix(limit))
            guard !rows.isEmpty else { return nil }
            var total = 0.0, tokens = 0
            for start in stride(from: 0, to: rows.count, by: micro) {
                var b = Batch(rows: min(micro, rows.count - start), time: config.data.seqLen)
                for r in rows[start..<min(start + micro, rows.count)] { b.append(r) }
                let (l, count) = model.loss(ids: b.ids, targets: b.targets, batch: b.rows, positions: b.positions,
                                            documents: b.attentionDocuments)
                total += Double(l.item) * Double(count)
                tokens += count
            }
            return tokens > 0 ? (total / Double(tokens), nil) : nil
        }
    }

    /// Writes `ckpt-<step>.h5` (model and tokenizer) in the run directory, keeping the newest
    /// `checkpoint.keep` (0 keeps all). Returns its path.
    @discardableResult
    func saveCheckpoint(step: Int) throws -> String {
        let name = String(format: "ckpt-%08d.h5", step)
        let path = runDirectory.appendingPathComponent(name).path
        try ModelFile.save(model, tokenizer: [UInt8](tokenizer.modelData), to: path)
        let existing = try FileManager.default.contentsOfDirectory(atPath: runDirectory.path)
            .filter { $0.hasPrefix("ckpt-") && $0.hasSuffix(".h5") }.sorted()
        for old in config.checkpoint.keep > 0 ? Array(existing.dropLast(config.checkpoint.keep)) : [] {
            try? FileManager.default.removeItem(at: runDirectory.appendingPathComponent(old))
        }
        return path
    }
}

extension Duration {
    var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) * 1e-18
    }
}
