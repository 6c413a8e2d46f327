import Autograd
import Datasets
import Foundation
import Gemma
import Mesh

extension Trainer {
    /// What a finished run reports.
    public struct Summary: Sendable {
        public var firstLoss: Double, lastLoss: Double
        public var evalLoss: Double?, evalAccuracy: Double?
        public var skippedSteps: Int
        public var checkpoint: String
    }

    /// Trains until `train.steps` (continuing after the checkpoint `checkpoint.resume` names, if any);
    /// returns the summary (the same on every rank). Only rank 0 writes files and progress; every rank
    /// must call this. SIGTERM or SIGINT ends the run after the current step with a checkpoint.
    /// - Parameter onStep: called after each step with its number, input tokens (whole global batch) and
    ///   wall seconds.
    @discardableResult
    public func run(onStep: (Int, Int, Double) -> Void = { _, _, _ in }) throws -> Summary {
        let t = config.train
        let resumed = try resolveResume().map { try restore(from: $0) }
        if resumed == nil { try objective.prepare(resumingFrom: nil) }
        if let resumed {
            log("resuming from \(resumed.path) after step \(resumed.step)"
                + (config.model.initFrom.map { "; model.init \($0) is not used (the weights are the checkpoint's)" } ?? ""))
        }
        if isLeader {
            ownedCheckpoints = try checkpointsOfThisRun(resumed)
            try writeRunConfig()
        }
        let first = (resumed?.step ?? 0) + 1
        // A fresh start replaces the metrics of an earlier attempt that saved no checkpoint (a directory
        // with checkpoints is refused at setup), so the log holds one run.
        let metrics = isLeader ? try MetricsLog(directory: runDirectory, resumingAfter: resumed?.step ?? 0) : nil
        let events = isLeader && config.log.tensorboard
            ? try TensorBoardWriter(directory: runDirectory, resumingAfter: resumed?.step ?? 0) : nil
        // Under mpirun rank 0 writes to a pty whatever mpirun's output is, so a job of several ranks
        // prints plain lines.
        let progress = ProgressDisplay(totalSteps: t.steps, every: config.log.every, enabled: isLeader,
                                       startStep: resumed?.step ?? 0, isTerminal: (mesh?.world.size ?? 1) > 1 ? false : nil,
                                       shownMetrics: objective.headlineMetrics)
        StopRequest.install()
        let start = ContinuousClock.now
        var tokensSeen = resumed?.tokensSeen ?? 0, skipped = 0, skippedInARow = 0
        var firstLoss: Double?, lastLoss = 0.0
        var lastEval: [(String, Double)]?
        var last = first - 1  // the last completed step
        var lastSaved = resumed?.path
        log("training \(task.rawValue): \(model.config.parameterCount.total) parameters, \(t.steps) steps of \(t.batchSize) \(objective.batchUnit)"
            + (mesh.map { " on mesh \($0.description)" } ?? "")
            + (model.recomputesBlocks ? ", recomputing each decoder block in backward (train.recompute: block)" : ""))
        log(memoryReport())
        for step in first...t.steps {
            try FaultInjection.fromEnvironment?.check(rank: mesh?.worldRank ?? 0, step: step)
            let stepStart = ContinuousClock.now
            let lr = schedule.rate(at: step)
            model.parameters.zeroGradients()
            // The step's dropout masks depend on (seed, step, data rank) only: a resumed run draws the same.
            model.loraDropout?.start(stream: UInt64(step) << 20 | UInt64(mesh?.dataRank ?? 0))
            let result = try objective.step(step)
            let (loss, stepTokens) = (result.loss, result.tokens)
            try optimizer.reduceGradients()
            let (gradNorm, clip) = try optimizer.clipping(maxNorm: Float(t.gradClip))
            last = step
            if loss.isFinite && gradNorm.isFinite {
                skippedInARow = 0
                try optimizer.step(learningRate: lr, gradientScale: clip)
                FaultInjection.fromEnvironment?.update(model.parameters, rank: mesh?.worldRank ?? 0, step: step)
                onStep(step, stepTokens, (ContinuousClock.now - stepStart).seconds)
                tokensSeen += stepTokens
                firstLoss = firstLoss ?? loss
                lastLoss = loss
                var record = StepRecord(
                    step: step, loss: Float(loss), lr: lr, gradNorm: Float(gradNorm), tokens: tokensSeen,
                    tokensPerSecond: Double(stepTokens) / (ContinuousClock.now - stepStart).seconds,
                    elapsedSeconds: (ContinuousClock.now - start).seconds, extra: result.metrics)
                if t.evalEvery > 0 && (step % t.evalEvery == 0 || step == t.steps), let e = try objective.evaluate() {
                    lastEval = e
                    record.extra += e
                }
                try metrics?.append(record)
                try events?.append(record)
                progress.update(record)
            } else if t.nanPolicy == .skip {  // every rank sees the same reduced loss and norm
                skipped += 1
                skippedInARow += 1
                progress.message("step \(step): non-finite loss \(loss) or gradient norm \(gradNorm); step skipped (\(skipped) so far)")
                if skippedInARow >= t.maxSkippedSteps {
                    throw TrainingError("steps \(step - skippedInARow + 1)-\(step): \(skippedInARow) non-finite steps in a row "
                                        + "(train.max_skipped_steps \(t.maxSkippedSteps)); stopping without saving"
                                        + (lastSaved.map { ", the last checkpoint is \($0)" } ?? ""))
                }
            } else {
                throw TrainingError("step \(step): non-finite loss \(loss) or gradient norm \(gradNorm) (train.nan_policy: abort)")
            }
            if let signal = try stopRequested() {
                progress.message("signal \(signal): stopping after step \(step)")
                break
            }
            if config.checkpoint.every > 0 && step % config.checkpoint.every == 0 && step < t.steps {
                lastSaved = try saveCheckpoint(step: step, tokensSeen: tokensSeen)
            }
        }
        progress.finish()
        if last == t.steps, lastEval == nil, let e = try objective.evaluate() { lastEval = e }
        let path = try saveCheckpoint(step: last, tokensSeen: tokensSeen)
        try metrics?.close()
        try events?.close()
        let evaluated = { (name: String) in lastEval?.first { $0.0 == name }?.1 }
        let summary = Summary(firstLoss: firstLoss ?? .nan, lastLoss: lastLoss, evalLoss: evaluated("eval_loss"),
                              evalAccuracy: evaluated("eval_accuracy") ?? evaluated("eval_rewards/accuracies"),
                              skippedSteps: skipped, checkpoint: path)
        log((last < t.steps ? "stopped at step \(last) of \(t.steps)" : "done") + ": loss \(summary.firstLoss) -> \(summary.lastLoss)"
            + (summary.evalLoss.map { ", eval loss \($0)" } ?? "") + (summary.evalAccuracy.map { ", eval accuracy \($0)" } ?? "")
            + "; saved \(path)")
        return summary
    }

    /// The stop signal any rank received (one small all-reduce on a mesh, so that every rank stops after
    /// the same step), else nil.
    func stopRequested() throws -> Int32? {
        let local = Double(StopRequest.received ?? 0)
        guard let mesh, mesh.world.size > 1 else { return local > 0 ? Int32(local) : nil }
        let any = try mesh.world.communicator.allReduceMax([local])[0]
        return any > 0 ? Int32(any) : nil
    }

    /// Per-rank bytes of parameters, gradients and optimizer state, and how many parameters train, for
    /// the log at the start.
    func memoryReport() -> String {
        let mib = { (bytes: Int) in String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
        let (p, trained) = (model.parameters.count, model.parameters.trainable.count)
        let frozen = model.lora.map { " (LoRA rank \($0.rank) on \($0.targets.joined(separator: ", ")); base frozen"
            + (model.frozenDType == .bfloat16 ? ", stored as bf16)" : ")") } ?? ""
        return "memory per rank: parameters \(mib(model.parameters.valueBytes)), gradients \(mib(4 * trained)), "
            + "optimizer state \(mib(8 * optimizer.range.count))"
            + (optimizer.zero ? " (ZeRO-1 shard \(optimizer.range.count) of \(trained))" : "")
            + "; trainable parameters \(trained) of \(p)" + frozen
    }

}

extension Duration {
    var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) * 1e-18
    }
}
