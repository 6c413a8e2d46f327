import Checkpoint
import Foundation
import Gemma
import Mesh
import NN

/// Full-state checkpoints of a run on any mesh (Docs/Checkpoints.md): rank 0 writes full tensors,
/// gathered one at a time; every rank reads its own shards back, whatever mesh wrote them.
extension Trainer {
    /// The position a run continues from.
    struct Resumed {
        /// The last completed step.
        let step: Int
        let tokensSeen: Int
        let path: String
    }

    /// Writes `ckpt-<step>.h5` with the trainable parameters (all of them, or a LoRA run's adapters and
    /// its base's identity), their AdamW moments and the run state, points `latest` at it
    /// and keeps the newest `checkpoint.keep` of this run's checkpoints (``ownedCheckpoints``; another
    /// run's are never removed). Every rank calls it; rank 0 writes. Returns the path.
    /// - Throws: ``TrainingError`` without writing anything when a parameter on any rank is not finite.
    @discardableResult
    func saveCheckpoint(step: Int, tokensSeen: Int) throws -> String {
        try checkParametersFinite(step: step)
        let started = ContinuousClock.now
        let directory = CheckpointDirectory(path: runDirectory.path)
        let path = directory.checkpointPath(step: step)
        let fileName = CheckpointDirectory.fileName(step: step)
        if isLeader, !ownedCheckpoints.contains(fileName), FileManager.default.fileExists(atPath: path) {
            log("replacing \(path), a checkpoint of an earlier run (this run resumed from an older step)")
        }
        let writer = isLeader ? try CheckpointWriter(path: path) : nil
        defer { writer?.abandon() }
        let store = model.parameters
        let adam = optimizer.adam
        for (i, e) in store.entries.enumerated() where e.trainable {
            let values = UnsafeBufferPointer(start: store.tensor(i).data, count: e.count)
            try writeFull(e, .params, local: values, writer)
            for (group, moment) in [(TensorGroup.adamM, adam.m), (.adamV, adam.v)] {
                // This rank's piece of the entry's moments (its ZeRO shard may hold part or none of it),
                // concatenated over `data` in rank order: the whole local-model moment at data rank 0.
                let mine = adam.range.clamped(to: e.offset..<(e.offset + e.count))
                let piece = UnsafeBufferPointer(start: moment.data + (mine.lowerBound - adam.range.lowerBound), count: mine.count)
                if let mesh, optimizer.zero {
                    try mesh.dataAxis.gather(piece).withUnsafeBufferPointer { try writeFull(e, group, local: $0, writer) }
                } else {
                    try writeFull(e, group, local: piece, writer)
                }
            }
        }
        let t = config.train
        let state = CheckpointState(
            kind: model.head, modelConfig: try model.config.jsonText(head: model.head), step: step, tokensSeen: tokensSeen,
            optimizer: .init(step: adam.step, learningRate: adam.learningRate, beta1: adam.beta1, beta2: adam.beta2,
                             epsilon: adam.epsilon, weightDecay: adam.weightDecay),
            data: .init(seed: UInt64(config.run.seed), epoch: step * t.batchSize / max(trainingRows, 1),
                        nextIndex: step * t.batchSize),
            scheduleStep: step, randomness: .init(seed: UInt64(config.run.seed)), runConfig: config.yaml(),
            mesh: config.mesh)
        let objectiveTensors = try objective.checkpointTensors(step: step)
        if let writer {
            for (name, values) in objectiveTensors {
                try values.withUnsafeBufferPointer { try writer.write(.objective, name: name, shape: [values.count], values: $0) }
            }
            try writer.commit(state: state, tokenizer: [UInt8](tokenizer.modelData), adapters: adapterHeader)
            log("saved \(path) (\(Self.rate(path, since: started)))")
            ownedCheckpoints.insert(fileName)
            for removed in try directory.prune(keep: config.checkpoint.keep, among: ownedCheckpoints) {
                ownedCheckpoints.remove(removed)
                log("removed old checkpoint \(removed)")
            }
        }
        return path
    }

    /// Throws on every rank when any rank holds a NaN or infinite parameter: such weights are never saved.
    private func checkParametersFinite(step: Int) throws {
        let bad = model.parameters.firstNonFinite()
        var anyBad = bad != nil
        if let mesh, mesh.world.size > 1 {
            anyBad = try mesh.world.communicator.allReduceMax([bad != nil ? 1 : 0])[0] > 0
        }
        guard anyBad else { return }
        throw TrainingError("step \(step): the parameters are not finite"
                            + (bad.map { " (\($0)\(mesh.map { " on rank \($0.worldRank)" } ?? ""))" } ?? " on another rank")
                            + "; no checkpoint of them is saved")
    }

    /// The checkpoint files of `run.dir` this run continues: on resume from a checkpoint in `run.dir`,
    /// those up to its step (earlier sessions of the same run); none otherwise.
    func checkpointsOfThisRun(_ resumed: Resumed?) throws -> Set<String> {
        guard let resumed else { return [] }
        let canonical = { (path: String) in URL(fileURLWithPath: path).resolvingSymlinksInPath().standardizedFileURL.path }
        guard canonical(CheckpointDirectory(containing: resumed.path).path) == canonical(runDirectory.path) else { return [] }
        return Set(try CheckpointDirectory(path: runDirectory.path).checkpoints().filter { $0.step <= resumed.step }.map(\.fileName))
    }

    /// Writes the resolved configuration to `run.dir/config.yaml` (atomically), once setup and resume
    /// have passed every check.
    func writeRunConfig() throws {
        let path = runDirectory.appendingPathComponent("config.yaml").path
        do {
            try AtomicPath.write(path) { try Data(config.yaml().utf8).write(to: URL(fileURLWithPath: $0)) }
        } catch {
            throw TrainingError("\(path): cannot write: \(FileSystemError.reason(of: error))")
        }
    }

    /// Gathers the full tensor of `entry` from this data replica-0 model group's `local` shards to rank
    /// 0, which writes it to `group`. Ranks of other data replicas have nothing to add.
    private func writeFull(_ entry: ParameterStore.Entry, _ group: TensorGroup, local: UnsafeBufferPointer<Float>,
                           _ writer: CheckpointWriter?) throws {
        guard (mesh?.dataRank ?? 0) == 0 else { return }
        try FullTensors.withFull(entry, local: local, modelAxis: mesh?.modelAxis) {
            try writer?.write(group, name: entry.name, shape: entry.sharding.fullShape, values: $0)
        }
    }

    /// `"<size> MB in <seconds> s, <rate> MB/s"` for the file at `path`, timed from `start`.
    static func rate(_ path: String, since start: ContinuousClock.Instant) -> String {
        let megabytes = Double((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0) / 1e6
        let seconds = (ContinuousClock.now - start).seconds
        return String(format: "%.1f MB in %.2f s, %.0f MB/s", megabytes, seconds, megabytes / max(seconds, 1e-9))
    }

    /// Rows of the training data (for the data cursor's epoch).
    var trainingRows: Int { objective.trainingRows }

    /// Where `checkpoint.resume` says to continue from: rank 0 resolves it with ``checkpointVerifier``
    /// (`auto`: the newest good checkpoint of the run directory, falling back past damaged ones) and tells
    /// the other ranks.
    /// Nil for a fresh start.
    func resolveResume() throws -> String? {
        guard let resume = config.checkpoint.resume else { return nil }
        var path: String?
        if isLeader {
            path = try CheckpointDirectory(path: runDirectory.path).resolve(resume: resume, verifier: checkpointVerifier, log: log)
            if path == nil {
                log("--resume auto: no checkpoint in \(runDirectory.path); starting fresh"
                    + (config.model.initFrom.map { " from model.init \($0)" } ?? ""))
            }
        }
        guard let mesh, mesh.world.size > 1 else { return path }
        let bytes = try mesh.world.communicator.broadcast(Array((path ?? "").utf8))
        return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
    }

    /// Loads parameters, moments and the optimizer step from the checkpoint at `path` into this rank's
    /// shards (any mesh wrote it: each rank reads only its block of every full tensor). A LoRA run reads
    /// only its trainable tensors and needs the checkpoint's adaptation and base to be its own.
    func restore(from path: String) throws -> Resumed {
        let started = ContinuousClock.now
        defer { log("read \(path) (\(Self.rate(path, since: started)))") }
        let reader = try CheckpointReader.open(path)
        try reader.checkModel(model.config, kind: model.head)
        let state = try reader.trainingState()
        let theirs = try reader.adapterHeader()
        guard theirs?.lora == adapterHeader?.lora, theirs?.baseChecksum == adapterHeader?.baseChecksum else {
            let describe = { (h: ModelFile.AdapterHeader?) in
                h.map { "LoRA rank \($0.rank), alpha \($0.alpha), targets \($0.targets.joined(separator: ",")) on base checksum \($0.baseChecksum)" } ?? "no LoRA"
            }
            throw TrainingError("\(path): the checkpoint has \(describe(theirs)), the run has \(describe(adapterHeader)) (model.lora, model.init)")
        }
        let store = model.parameters
        let adam = optimizer.adam
        for (i, e) in store.entries.enumerated() where e.trainable {
            try read(reader, .params, e, into: store.tensor(i).data)
            // The moments of this rank's shard, of which its ZeRO range keeps a part (or none).
            let mine = adam.range.clamped(to: e.offset..<(e.offset + e.count))
            guard !mine.isEmpty else { continue }
            for (group, moment) in [(TensorGroup.adamM, adam.m), (.adamV, adam.v)] {
                var shard = [Float](repeating: 0, count: e.count)
                try shard.withUnsafeMutableBufferPointer { try read(reader, group, e, into: $0.baseAddress!) }
                shard.withUnsafeBufferPointer { local in
                    (moment.data + (mine.lowerBound - adam.range.lowerBound))
                        .update(from: local.baseAddress! + (mine.lowerBound - e.offset), count: mine.count)
                }
            }
        }
        adam.step = state.optimizer.step
        guard state.step < config.train.steps else {
            throw TrainingError("\(path): the checkpoint is at step \(state.step); train.steps (\(config.train.steps)) leaves nothing to train")
        }
        try objective.prepare(resumingFrom: reader)
        return Resumed(step: state.step, tokensSeen: state.tokensSeen, path: path)
    }

    /// Reads this rank's block of tensor `entry.name` of `group` (only that block is read from the file)
    /// and writes it to `destination` as the shard's layout, padding rows zeroed.
    private func read(_ reader: CheckpointReader, _ group: TensorGroup, _ entry: ParameterStore.Entry,
                      into destination: UnsafeMutablePointer<Float>) throws {
        let shape = try reader.shape(group, name: entry.name)
        guard shape == entry.sharding.fullShape else {
            throw TrainingError("\(reader.path): dataset \(group.dataset(entry.name)) has shape \(shape), the model needs \(entry.sharding.fullShape)")
        }
        let block = entry.sharding.block
        entry.sharding.fill(destination, fromBlock: try reader.read(group, name: entry.name, offset: block.offset, count: block.count))
    }
}
