import Foundation
import Gemma
import NN

// The schema: every section and key of the run configuration, in file order, with its type, default
// (the struct's) and meaning. Loading, `--set`, `yaml()` and the reference table all read this one list.

/// A scalar as written in a YAML file or a `--set` value, before it is given a type.
struct ConfigScalar {
    var text: String
    /// Written in quotes: a string, never null, a number or a boolean.
    var quoted: Bool

    /// YAML's null: `null`, `Null`, `NULL`, `~` or nothing, unquoted.
    var isNull: Bool { !quoted && ["", "~", "null", "Null", "NULL"].contains(text) }

    /// The value as an error message shows it.
    var shown: String { isNull ? "null" : "'\(text)'" }
}

/// A type a configuration key can have: how a scalar becomes a value and how the value is written.
protocol ConfigValue {
    /// What an error says was expected: "an integer", "true or false".
    static var expected: String { get }
    /// The type column of the reference table.
    static var typeName: String { get }
    /// The valid values of an enumerated type; empty otherwise.
    static var choices: [String] { get }
    /// Whether a YAML sequence of plain scalars is read as this type (joined by commas).
    static var isList: Bool { get }
    /// nil when the scalar is not of this type.
    init?(configScalar scalar: ConfigScalar)
    /// The YAML text that reads back to the same value.
    var yamlText: String { get }
}

extension ConfigValue {
    static var choices: [String] { [] }
    static var isList: Bool { false }
}

extension Int: ConfigValue {
    static var expected: String { "an integer" }
    static var typeName: String { "integer" }
    init?(configScalar s: ConfigScalar) {
        guard !s.quoted, let value = Int(s.text.replacingOccurrences(of: "_", with: "")) else { return nil }
        self = value
    }
    var yamlText: String { String(self) }
}

extension Double: ConfigValue {
    static var expected: String { "a number" }
    static var typeName: String { "number" }
    init?(configScalar s: ConfigScalar) {
        guard !s.quoted else { return nil }
        switch s.text {
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": self = .infinity
        case "-.inf", "-.Inf", "-.INF": self = -.infinity
        case ".nan", ".NaN", ".NAN": self = .nan
        default:
            // Swift's parser also takes "inf", "nan" and hex floats, which YAML reads as strings.
            guard s.text.allSatisfy({ $0.isNumber || "+-.eE_".contains($0) }),
                  let value = Double(s.text.replacingOccurrences(of: "_", with: "")) else { return nil }
            self = value
        }
    }
    /// The shortest text that reads back to the same Double, with a `.` in the mantissa so that YAML 1.1
    /// readers (PyYAML) also see a float: `0.0003`, `1.0e-08`, `3.0`.
    var yamlText: String {
        if isNaN { return ".nan" }
        if isInfinite { return self < 0 ? "-.inf" : ".inf" }
        let text = "\(self)"
        guard let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }), !text[..<e].contains(".") else { return text }
        return text[..<e] + ".0" + text[e...]
    }
}

extension Bool: ConfigValue {
    static var expected: String { "true or false" }
    static var typeName: String { "true/false" }
    init?(configScalar s: ConfigScalar) {
        guard !s.quoted else { return nil }
        switch s.text {
        case "true", "True", "TRUE": self = true
        case "false", "False", "FALSE": self = false
        default: return nil
        }
    }
    var yamlText: String { self ? "true" : "false" }
}

extension String: ConfigValue {
    static var expected: String { "a string" }
    static var typeName: String { "string" }
    init?(configScalar s: ConfigScalar) {
        guard !s.isNull else { return nil }
        self = s.text
    }
    /// Plain when YAML reads it back as this string, else double-quoted with escapes.
    var yamlText: String {
        let reserved: Set<String> = ["null", "~", "true", "false", "yes", "no", "on", "off", "y", "n"]
        let safe = { (c: Character) in c.isASCII && (c.isLetter || c.isNumber || "_./-".contains(c)) }
        if let first = first, first.isASCII && (first.isLetter || first == "_" || first == "/"),
           allSatisfy(safe), !reserved.contains(lowercased()) {
            return self
        }
        var out = "\""
        for scalar in unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += "\\x" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

/// An enumerated key: the YAML value is one of the raw values.
protocol ConfigChoice: ConfigValue, CaseIterable, RawRepresentable where RawValue == String {}

extension ConfigChoice {
    static var choices: [String] { allCases.map(\.rawValue) }
    static var expected: String { "one of " + choices.joined(separator: ", ") }
    static var typeName: String { choices.joined(separator: " | ") }
    init?(configScalar s: ConfigScalar) { self.init(rawValue: s.text) }
    var yamlText: String { rawValue }
}

extension RunConfig.Data.Format: ConfigChoice {}
extension RunConfig.Data.Overlong: ConfigChoice {}
extension RunConfig.Train.Schedule: ConfigChoice {}
extension RunConfig.Train.NaNPolicy: ConfigChoice {}
extension RunConfig.Train.Recompute: ConfigChoice {}
extension RunConfig.DPO.Loss: ConfigChoice {}
extension RunConfig.RL.Algorithm: ConfigChoice {}
extension RunConfig.Data.Filter: ConfigChoice {}
extension RunConfig.Model.LoRATarget: ConfigChoice {}
extension ParameterStore.FrozenDType: ConfigChoice {}

/// A list of choices: `[pii, dedup]` in YAML (a sequence, which the loader passes on as `pii,dedup`),
/// `pii,dedup` or `[pii, dedup]` with `--set`; `[]` for none.
extension Array: ConfigValue where Element: ConfigChoice {
    static var expected: String { "a list of " + Element.choices.joined(separator: ", ") }
    static var typeName: String { "list of " + Element.choices.joined(separator: " | ") }
    static var choices: [String] { Element.choices }
    static var isList: Bool { true }
    init?(configScalar s: ConfigScalar) {
        var text = s.text.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("["), text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        let items = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        var values: [Element] = []
        for item in items {
            guard let value = Element(rawValue: item) else { return nil }
            values.append(value)
        }
        self = values
    }
    var yamlText: String { "[" + map(\.rawValue).joined(separator: ", ") + "]" }
}

extension Optional: ConfigValue where Wrapped: ConfigValue {
    static var expected: String { "\(Wrapped.expected) or null" }
    static var typeName: String { "\(Wrapped.typeName) or null" }
    static var choices: [String] { Wrapped.choices }
    init?(configScalar s: ConfigScalar) {
        if s.isNull {
            self = .none
        } else if let value = Wrapped(configScalar: s) {
            self = .some(value)
        } else {
            return nil
        }
    }
    var yamlText: String { map(\.yamlText) ?? "null" }
}

/// One key of a section.
struct ConfigField {
    let key: String
    let typeName: String
    /// What a wrong-type error says was expected ("an integer or null").
    let expected: String
    let doc: String
    /// Whether the key takes a YAML sequence (``ConfigValue/isList``).
    let isList: Bool
    /// Sets the key from a scalar; throws a wrong-type or invalid-choice error naming `path`.
    let assign: (inout RunConfig, ConfigScalar, _ path: String) throws -> Void
    /// The value's YAML text.
    let render: (RunConfig) -> String

    /// - Parameter typeName: the reference table's type when more telling than the Swift type's ("path").
    init<T: ConfigValue>(_ key: String, _ keyPath: WritableKeyPath<RunConfig, T>, typeName: String? = nil,
                         _ doc: String) {
        self.key = key
        self.typeName = typeName.map { T.typeName.hasSuffix(" or null") ? "\($0) or null" : $0 } ?? T.typeName
        expected = T.expected
        self.doc = doc
        isList = T.isList
        assign = { config, scalar, path in
            guard let value = T(configScalar: scalar) else {
                if !T.choices.isEmpty && !scalar.isNull {
                    throw RunConfigError(.invalidChoice, key: path, message:
                        "invalid choice \(scalar.shown); valid choices: " + T.choices.joined(separator: ", "))
                }
                throw RunConfigError(.wrongType, key: path, message: "expected \(T.expected), got \(scalar.shown)")
            }
            config[keyPath: keyPath] = value
        }
        render = { $0[keyPath: keyPath].yamlText }
    }
}

/// One section: a YAML mapping of keys. A key `group.name` is `name` inside the nested mapping `group`
/// (`model.lora: {rank: 16}`); `group: null` sets the group's first key to null (its switch).
struct ConfigSection {
    let name: String
    let fields: [ConfigField]

    func field(_ key: String) -> ConfigField? { fields.first { $0.key == key } }
    var keyList: String { fields.map(\.key).joined(separator: ", ") }
}

extension RunConfig {
    /// Every section and key in file order.
    static var schema: [ConfigSection] {
        [
            ConfigSection(name: "run", fields: [
                ConfigField("dir", \.run.dir, typeName: "path",
                            "Run directory: config.yaml, metrics.jsonl, TensorBoard events, checkpoints."),
                ConfigField("seed", \.run.seed, "Seeds parameter initialisation and the data order (>= 0)."),
                ConfigField("name", \.run.name,
                            "Display name for logs and TensorBoard; null = the run directory's last component."),
            ]),
            ConfigSection(name: "model", fields: [
                ConfigField("preset", \.model.preset, typeName: GemmaConfig.presets.keys.sorted().joined(separator: " | "),
                            "Named architecture (Configs/models/<name>.json); the default tiny applies only when "
                            + "neither path nor init is set."),
                ConfigField("path", \.model.path, typeName: "path",
                            "Architecture from an HF directory, config.json or .h5 checkpoint (exclusive with preset)."),
                ConfigField("init", \.model.initFrom, typeName: "path",
                            "Weights to start from: .h5 checkpoint or HF directory (also gives the architecture); "
                            + "null = random."),
                ConfigField("lora.rank", \.model.lora.rank,
                            "LoRA rank r: freeze the weights and train low-rank adapters of the targets (needs model.init); "
                            + "null (or model.lora: null) = off."),
                ConfigField("lora.alpha", \.model.lora.alpha, "LoRA's lora_alpha: the adapters' output is scaled by alpha / rank."),
                ConfigField("lora.dropout", \.model.lora.dropout,
                            "Dropout on the adapters' input while training (0 <= dropout < 1; masks seeded by run.seed, step and data rank)."),
                ConfigField("lora.targets", \.model.lora.targets, "The projections LoRA adapts (PEFT's module names)."),
                ConfigField("lora.init", \.model.lora.initFrom, typeName: "path",
                            "A PEFT adapter directory to start the adapters from (same rank, alpha and targets); null = A random, B zero."),
                ConfigField("frozen_dtype", \.model.frozenDType,
                            "How a LoRA run stores its frozen base: f32, or bf16 (half the bytes; widened to Float32 for each product, at most 64 MiB at a time)."),
            ]),
            ConfigSection(name: "tokenizer", fields: [
                ConfigField("path", \.tokenizer.path, typeName: "path",
                            "SentencePiece .model file; null = the tokenizer inside model.init or model.path."),
            ]),
            ConfigSection(name: "data", fields: [
                ConfigField("train", \.data.train, typeName: "path",
                            "Training file (.jsonl, or .txt for text), or a directory from gemma-train data prepare (text). Required."),
                ConfigField("eval", \.data.eval, typeName: "path",
                            "Evaluation file (or prepared directory) in the same format; null = no evaluation."),
                ConfigField("format", \.data.format,
                            "Rows: text (pretraining), chat (dialogues, SFT), preference (pairs, reward model)."),
                ConfigField("seq_len", \.data.seqLen,
                            "Tokens per row (>= 2, at most the preset's max_position_embeddings)."),
                ConfigField("packing", \.data.packing,
                            "Pack several documents or dialogues per row; false pads each example."),
                ConfigField("skip_bad_rows", \.data.skipBadRows,
                            "Skip and count malformed rows instead of stopping at file:line."),
                ConfigField("overlong", \.data.overlong,
                            "An example longer than seq_len that cannot be split is truncated or dropped."),
                ConfigField("filters", \.data.filters,
                            "Filter data.train (.jsonl) first, as gemma-train data filter: pii scrubs personal data, "
                            + "dedup drops exact duplicates (Docs/Data.md)."),
            ]),
            ConfigSection(name: "train", fields: [
                ConfigField("steps", \.train.steps, "Optimizer steps (> 0)."),
                ConfigField("batch_size", \.train.batchSize,
                            "Sequences per optimizer step over all data ranks; a multiple of micro_batch_size x mesh.data."),
                ConfigField("micro_batch_size", \.train.microBatchSize,
                            "Sequences per forward pass on each data rank."),
                ConfigField("lr", \.train.lr, "Peak learning rate (> 0)."),
                ConfigField("min_lr_ratio", \.train.minLrRatio,
                            "Final learning rate as a fraction of lr for cosine and linear (0...1)."),
                ConfigField("schedule", \.train.schedule, "Decay after warmup."),
                ConfigField("warmup_steps", \.train.warmupSteps, "Linear warmup from 0 to lr (0...steps)."),
                ConfigField("weight_decay", \.train.weightDecay, "AdamW decoupled weight decay (>= 0)."),
                ConfigField("decay_norms_and_embeddings", \.train.decayNormsAndEmbeddings,
                            "Also decay RMSNorm scales and the embedding."),
                ConfigField("beta1", \.train.beta1, "AdamW first-moment decay (0 <= beta1 < 1)."),
                ConfigField("beta2", \.train.beta2, "AdamW second-moment decay (0 <= beta2 < 1)."),
                ConfigField("eps", \.train.eps, "AdamW epsilon (> 0)."),
                ConfigField("grad_clip", \.train.gradClip, "Maximum global gradient norm; 0 = no clipping."),
                ConfigField("eval_every", \.train.evalEvery,
                            "Steps between evaluations of data.eval; 0 = only at the end."),
                ConfigField("eval_batches", \.train.evalBatches,
                            "Batches per evaluation; 0 = the whole evaluation file."),
                ConfigField("nan_policy", \.train.nanPolicy,
                            "At a non-finite loss or gradient: stop with an error, or skip the update and count it."),
                ConfigField("max_skipped_steps", \.train.maxSkippedSteps,
                            "With nan_policy skip: this many skipped steps in a row end the run with an error, saving nothing (>= 1)."),
                ConfigField("recompute", \.train.recompute,
                            "Activation recomputation: block keeps only each decoder block's input and recomputes the block in backward (same losses, less memory, slower)."),
            ]),
            ConfigSection(name: "checkpoint", fields: [
                ConfigField("every", \.checkpoint.every,
                            "Steps between checkpoints; 0 = only at the end (a final one is always written)."),
                ConfigField("keep", \.checkpoint.keep, "Checkpoints kept, oldest removed first; 0 = keep all."),
                ConfigField("resume", \.checkpoint.resume, typeName: "auto or path",
                            "auto (newest checkpoint in run.dir, if any), a checkpoint path, or null = start fresh."),
            ]),
            ConfigSection(name: "log", fields: [
                ConfigField("every", \.log.every,
                            "Steps between console progress lines (metrics.jsonl records every step)."),
                ConfigField("tensorboard", \.log.tensorboard, "Also write TensorBoard event files into run.dir."),
            ]),
            ConfigSection(name: "mesh", fields: [
                ConfigField("data", \.mesh.data, "Data-parallel size (model replicas); data x model = MPI ranks."),
                ConfigField("model", \.mesh.model, "Tensor-parallel size (ranks sharing each layer)."),
                ConfigField("zero", \.mesh.zero,
                            "ZeRO-1: shard the optimizer state over data; false all-reduces gradients instead."),
            ]),
            ConfigSection(name: "reward", fields: [
                ConfigField("margin", \.reward.margin, "Margin m in -log σ(r_chosen - r_rejected - m) (>= 0)."),
                ConfigField("center_coef", \.reward.centerCoef,
                            "Weight of (r_chosen + r_rejected)², keeping rewards near 0 (>= 0)."),
            ]),
            ConfigSection(name: "dpo", fields: [
                ConfigField("beta", \.dpo.beta, "β, the pull towards the reference (> 0)."),
                ConfigField("loss", \.dpo.loss, "sigmoid (DPO) or ipo."),
                ConfigField("label_smoothing", \.dpo.labelSmoothing,
                            "ε of the sigmoid loss, conservative DPO (0 <= ε < 0.5; 0 = plain DPO)."),
                ConfigField("reference", \.dpo.reference,
                            "The reference model (.h5 or HF directory); null = the run's starting weights."),
            ]),
            ConfigSection(name: "rl", fields: [
                ConfigField("reward_model", \.rl.rewardModel, "The reward checkpoint (.h5 of gemma-train reward) that scores completions; required by rl."),
                ConfigField("algorithm", \.rl.algorithm, "rloo (KL in the reward, leave-one-out baseline) or grpo (group-normalised, KL in the loss)."),
                ConfigField("generations", \.rl.generations, "Completions sampled per prompt, K (>= 2 for rloo, >= 1 for grpo)."),
                ConfigField("max_new_tokens", \.rl.maxNewTokens, "The most tokens a completion may have (> 0, < data.seq_len)."),
                ConfigField("temperature", \.rl.temperature, "Sampling temperature (> 0)."),
                ConfigField("top_p", \.rl.topP, "Nucleus sampling mass (0 < top_p <= 1; 1 = the whole distribution)."),
                ConfigField("beta", \.rl.beta, "KL coefficient β (>= 0); null = 0.05 for rloo, 0.04 for grpo."),
                ConfigField("epsilon", \.rl.epsilon, "PPO clipping range of the ratio to the sampling policy (> 0)."),
                ConfigField("iterations", \.rl.iterations, "Optimizer steps per batch of completions (>= 1; 1 = on-policy)."),
                ConfigField("missing_eos_penalty", \.rl.missingEosPenalty, "Subtracted from the score of a completion that never closed its turn (>= 0)."),
                ConfigField("log_samples_every", \.rl.logSamplesEvery, "Steps between prompts and completions written to samples.jsonl; 0 = never."),
            ]),
        ]
    }

    static var sectionList: String { schema.map(\.name).joined(separator: ", ") }
}
