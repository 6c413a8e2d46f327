import Checkpoint
import Gemma
import NN

/// Where a ``CheckpointState`` lives in a version-2 file (Docs/Checkpoints.md): attributes on `/`,
/// `/optimizer` and `/state`. Writing and reading sit side by side so the two cannot drift.
extension CheckpointState {
    /// The group whose attributes hold the data cursor, schedule position, randomness and mesh.
    static let stateGroup = "/state"

    /// Writes the state as attributes (creating `/optimizer` and `/state` if needed), including the root
    /// `format` and `version` that make the file a training checkpoint.
    /// - Throws: ``H5Error`` naming the attribute if a write fails.
    func write(to file: H5File) throws {
        try file.setAttribute("format", ModelFile.format)
        try file.setAttribute("version", ModelFile.checkpointVersion)
        try file.setAttribute("kind", kind.rawValue)
        try file.setAttribute("config", modelConfig)
        try file.setAttribute("step", step)
        try file.setAttribute("tokens_seen", tokensSeen)
        try file.setAttribute("run_config", runConfig)
        try file.setAttribute("created", created)
        try file.setAttribute("code_revision", codeRevision)

        let optimizerGroup = TensorGroup.optimizerGroup
        try file.createGroup(optimizerGroup)
        try file.setAttribute("algorithm", "adamw", on: optimizerGroup)
        try file.setAttribute("step", optimizer.step, on: optimizerGroup)
        try file.setAttribute("lr", Double(optimizer.learningRate), on: optimizerGroup)
        try file.setAttribute("beta1", Double(optimizer.beta1), on: optimizerGroup)
        try file.setAttribute("beta2", Double(optimizer.beta2), on: optimizerGroup)
        try file.setAttribute("eps", Double(optimizer.epsilon), on: optimizerGroup)
        try file.setAttribute("weight_decay", Double(optimizer.weightDecay), on: optimizerGroup)

        let state = Self.stateGroup
        try file.createGroup(state)
        try file.setAttribute("data_seed", data.seed, on: state)
        try file.setAttribute("data_epoch", data.epoch, on: state)
        try file.setAttribute("data_next_index", data.nextIndex, on: state)
        try file.setAttribute("schedule_step", scheduleStep, on: state)
        try file.setAttribute("rng_seed", randomness.seed, on: state)
        if let generator = randomness.generator {
            let (a, b, c, d) = generator.state
            try file.setAttribute("rng_state", [a, b, c, d], on: state)
        }
        try file.setAttribute("mesh_data", mesh.data, on: state)
        try file.setAttribute("mesh_model", mesh.model, on: state)
    }

    /// Reads the state of a version-2 file whose root `format` and `version` were already checked.
    /// - Parameter kind: The root `kind`, already parsed by the caller.
    /// - Throws: ``H5Error`` naming the attribute that is missing or of the wrong type; a
    ///   ``CheckpointError`` naming `path` for an `rng_state` that is not four words.
    init(reading file: H5File, path: String, kind: GemmaModel.Head) throws {
        let optimizerGroup = TensorGroup.optimizerGroup, state = Self.stateGroup
        var generator: RandomGenerator?
        if file.hasAttribute("rng_state", on: state) {
            let words = try file.uint64ArrayAttribute("rng_state", on: state)
            guard words.count == 4 else {
                throw CheckpointError(file: path, object: "attribute \(state)@rng_state",
                                      reason: "has \(words.count) words; a generator state has 4")
            }
            generator = RandomGenerator(seed: 0)
            generator?.state = (words[0], words[1], words[2], words[3])
        }
        self.init(
            kind: kind,
            modelConfig: try file.stringAttribute("config"),
            step: try file.intAttribute("step"),
            tokensSeen: try file.intAttribute("tokens_seen"),
            optimizer: Optimizer(
                step: try file.intAttribute("step", on: optimizerGroup),
                learningRate: Float(try file.doubleAttribute("lr", on: optimizerGroup)),
                beta1: Float(try file.doubleAttribute("beta1", on: optimizerGroup)),
                beta2: Float(try file.doubleAttribute("beta2", on: optimizerGroup)),
                epsilon: Float(try file.doubleAttribute("eps", on: optimizerGroup)),
                weightDecay: Float(try file.doubleAttribute("weight_decay", on: optimizerGroup))),
            data: DataCursor(
                seed: try file.uint64Attribute("data_seed", on: state),
                epoch: try file.intAttribute("data_epoch", on: state),
                nextIndex: try file.intAttribute("data_next_index", on: state)),
            scheduleStep: try file.intAttribute("schedule_step", on: state),
            randomness: Randomness(seed: try file.uint64Attribute("rng_seed", on: state), generator: generator),
            runConfig: try file.stringAttribute("run_config"),
            mesh: RunConfig.Mesh(data: try file.intAttribute("mesh_data", on: state),
                                 model: try file.intAttribute("mesh_model", on: state)),
            created: try file.stringAttribute("created"),
            codeRevision: try file.stringAttribute("code_revision"))
    }
}
