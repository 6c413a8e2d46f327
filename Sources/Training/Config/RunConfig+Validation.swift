import Gemma

extension RunConfig {
    /// Checks every value and every combination of keys that can be checked without touching files or
    /// knowing the world size; ``load(path:overrides:)`` calls it. The data-parallel size is checked by
    /// ``accumulationSteps(dataParallel:)``.
    ///
    /// - Throws: ``RunConfigError`` for the first broken rule, naming its key.
    public func validate() throws {
        func require(_ ok: Bool, _ key: String, _ message: @autoclosure () -> String) throws {
            if !ok { throw RunConfigError(.invalidValue, key: key, message: message()) }
        }
        /// A real-valued key: finite, then in range (`.inf` and `.nan` read as YAML numbers).
        func number(_ value: Double, _ key: String, _ ok: (Double) -> Bool, _ range: String) throws {
            try require(value.isFinite && ok(value), key, "must be a finite number \(range), got \(value)")
        }
        func nonEmpty(_ value: String?, _ key: String) throws {
            try require(value?.isEmpty != true, key, "must not be empty (use null to leave it unset)")
        }

        try require(!run.dir.isEmpty, "run.dir", "must not be empty")
        try require(run.seed >= 0, "run.seed", "must be >= 0, got \(run.seed)")
        try nonEmpty(run.name, "run.name")

        if let preset = model.preset, GemmaConfig.presets[preset] == nil {
            throw RunConfigError(.invalidChoice, key: "model.preset", message: "invalid choice '\(preset)'; valid choices: "
                                 + GemmaConfig.presets.keys.sorted().joined(separator: ", "))
        }
        try nonEmpty(model.path, "model.path")
        try nonEmpty(model.initFrom, "model.init")
        if let preset = model.preset, let path = model.path {
            throw RunConfigError(.invalidValue, key: "model.path", message:
                "give model.preset or model.path, not both (preset '\(preset)', path '\(path)')")
        }
        if model.preset == nil && model.path == nil && model.initFrom == nil {
            throw RunConfigError(.missingKey, key: "model.preset",
                                 message: "no architecture: set model.preset, model.path or model.init")
        }

        try require(model.lora.rank != nil || model.lora.initFrom == nil, "model.lora.init", "needs model.lora.rank (LoRA is off)")
        try require(model.frozenDType == .float32 || model.lora.rank != nil, "model.frozen_dtype",
                    "bf16 stores the frozen base of a LoRA run, but model.lora is off (nothing would be frozen)")
        if let rank = model.lora.rank {
            try require(rank > 0, "model.lora.rank", "must be > 0 (null turns LoRA off), got \(rank)")
            try number(model.lora.alpha, "model.lora.alpha", { $0 > 0 }, "> 0")
            try number(model.lora.dropout, "model.lora.dropout", { $0 >= 0 && $0 < 1 }, "in 0 <= dropout < 1")
            try require(!model.lora.targets.isEmpty, "model.lora.targets", "must name at least one projection")
            try nonEmpty(model.lora.initFrom, "model.lora.init")
            try require(model.initFrom != nil, "model.init", "model.lora adapts a base model: set model.init to its weights")
        }

        try nonEmpty(tokenizer.path, "tokenizer.path")
        if tokenizer.path == nil {
            let carrier = model.initFrom ?? model.path.flatMap { $0.hasSuffix(".json") ? nil : $0 }
            try require(carrier != nil, "tokenizer.path", "null takes the tokenizer from model.init or model.path, "
                        + "but neither is set to an .h5 checkpoint or HF directory")
        }

        try require(!data.train.isEmpty, "data.train", "must not be empty")
        try nonEmpty(data.eval, "data.eval")
        try require(data.filters.isEmpty || data.train.hasSuffix(".jsonl"), "data.filters",
                    "filters read a .jsonl data.train (not a .txt file or a prepared directory), got '\(data.train)'")
        try require(data.seqLen >= 2, "data.seq_len", "must be >= 2 (one input and one target), got \(data.seqLen)")
        if let preset = model.preset, let architecture = GemmaConfig.presets[preset] {
            try require(data.seqLen <= architecture.maxPositionEmbeddings, "data.seq_len",
                        "\(data.seqLen) exceeds max_position_embeddings \(architecture.maxPositionEmbeddings) "
                        + "of preset '\(preset)'")
        }

        try require(train.steps > 0, "train.steps", "must be > 0, got \(train.steps)")
        try require(train.batchSize > 0, "train.batch_size", "must be > 0, got \(train.batchSize)")
        try require(train.microBatchSize > 0, "train.micro_batch_size", "must be > 0, got \(train.microBatchSize)")
        try require(train.batchSize % train.microBatchSize == 0, "train.batch_size",
                    "\(train.batchSize) is not a multiple of train.micro_batch_size (\(train.microBatchSize))")
        try number(train.lr, "train.lr", { $0 > 0 }, "> 0")
        try number(train.minLrRatio, "train.min_lr_ratio", { (0...1).contains($0) }, "in 0...1")
        try require((0...train.steps).contains(train.warmupSteps), "train.warmup_steps",
                    "must be in 0...train.steps (\(train.steps)), got \(train.warmupSteps)")
        try number(train.weightDecay, "train.weight_decay", { $0 >= 0 }, ">= 0")
        try number(train.beta1, "train.beta1", { (0..<1).contains($0) }, "in [0, 1)")
        try number(train.beta2, "train.beta2", { (0..<1).contains($0) }, "in [0, 1)")
        try number(train.eps, "train.eps", { $0 > 0 }, "> 0")
        try number(train.gradClip, "train.grad_clip", { $0 >= 0 }, ">= 0 (0 = no clipping)")
        try require(train.evalEvery >= 0, "train.eval_every", "must be >= 0 (0 = only at the end), got \(train.evalEvery)")
        try require(train.evalEvery == 0 || data.eval != nil, "train.eval_every",
                    "is \(train.evalEvery) but data.eval is null: set an evaluation file or eval_every 0")
        try require(train.maxSkippedSteps >= 1, "train.max_skipped_steps", "must be >= 1, got \(train.maxSkippedSteps)")
        try require(train.evalBatches >= 0, "train.eval_batches", "must be >= 0 (0 = whole file), got \(train.evalBatches)")

        try require(checkpoint.every >= 0, "checkpoint.every", "must be >= 0 (0 = only at the end), got \(checkpoint.every)")
        try require(checkpoint.keep >= 0, "checkpoint.keep", "must be >= 0 (0 = keep all), got \(checkpoint.keep)")
        try nonEmpty(checkpoint.resume, "checkpoint.resume")

        try require(log.every > 0, "log.every", "must be > 0, got \(log.every)")

        try require(mesh.data > 0, "mesh.data", "must be > 0, got \(mesh.data)")
        try require(mesh.model > 0, "mesh.model", "must be > 0, got \(mesh.model)")

        try number(reward.margin, "reward.margin", { $0 >= 0 }, ">= 0")
        try number(reward.centerCoef, "reward.center_coef", { $0 >= 0 }, ">= 0")
        try number(dpo.beta, "dpo.beta", { $0 > 0 }, "> 0")
        try number(dpo.labelSmoothing, "dpo.label_smoothing", { $0 >= 0 && $0 < 0.5 }, "in [0, 0.5)")
        try nonEmpty(dpo.reference, "dpo.reference")
        try nonEmpty(rl.rewardModel, "rl.reward_model")
        try require(rl.generations >= (rl.algorithm == .rloo ? 2 : 1), "rl.generations",
                    rl.algorithm == .rloo ? "must be >= 2 with rloo (the baseline is the other samples' mean), got \(rl.generations)"
                                          : "must be >= 1, got \(rl.generations)")
        try require(rl.maxNewTokens > 0, "rl.max_new_tokens", "must be > 0, got \(rl.maxNewTokens)")
        try number(rl.temperature, "rl.temperature", { $0 > 0 }, "> 0")
        try number(rl.topP, "rl.top_p", { $0 > 0 && $0 <= 1 }, "in (0, 1]")
        if let beta = rl.beta { try number(beta, "rl.beta", { $0 >= 0 }, ">= 0") }
        try number(rl.epsilon, "rl.epsilon", { $0 > 0 }, "> 0")
        try require(rl.iterations >= 1, "rl.iterations", "must be >= 1, got \(rl.iterations)")
        try number(rl.missingEosPenalty, "rl.missing_eos_penalty", { $0 >= 0 }, ">= 0")
        try require(rl.logSamplesEvery >= 0, "rl.log_samples_every", "must be >= 0 (0 = never), got \(rl.logSamplesEvery)")
    }

    /// Forward passes per optimizer step on each data rank: `batch_size / (micro_batch_size x dataParallel)`.
    ///
    /// - Parameter dataParallel: the data-parallel size of the mesh the run actually has.
    /// - Throws: ``RunConfigError`` naming `train.batch_size` when it is not a multiple of
    ///   `micro_batch_size x dataParallel`, with the nearest valid batch sizes.
    public func accumulationSteps(dataParallel: Int) throws -> Int {
        guard dataParallel > 0 else {
            throw RunConfigError(.invalidValue, key: "mesh.data", message: "must be > 0, got \(dataParallel)")
        }
        let perStep = train.microBatchSize * dataParallel
        guard perStep > 0, train.batchSize > 0, train.batchSize % perStep == 0 else {
            let below = train.batchSize / max(perStep, 1) * perStep
            let options = (below > 0 ? "\(below) or " : "") + "\(below + perStep)"
            throw RunConfigError(.invalidValue, key: "train.batch_size", message:
                "\(train.batchSize) sequences cannot be split into micro-batches of \(train.microBatchSize) "
                + "on \(dataParallel) data rank\(dataParallel == 1 ? "" : "s"): it must be a multiple of "
                + "micro_batch_size x data-parallel size = \(perStep) (e.g. \(options)); "
                + "or change train.micro_batch_size or the mesh")
        }
        return train.batchSize / perStep
    }
}
