import Checkpoint
import Foundation
import NN

/// The model part of a GemmaTrain checkpoint (`.h5`, layout in Docs/Checkpoints.md):
///
///     /                   attrs format = "gemma-train", version = "1", kind = "causal-lm" | "reward-model",
///                         config = the model config as HF config.json text
///     /params/<HF name>   every parameter, full Float32 tensor, Fletcher-32 checksummed
///     /tokenizer/model    the SentencePiece model file's bytes (when known)
public enum ModelFile {
    /// The root `format` attribute of every GemmaTrain `.h5` file.
    public static let format = "gemma-train"
    /// The root `version` attribute of a model file (model and tokenizer only).
    public static let version = "1"
    /// The root `version` attribute of a training checkpoint: a model file plus `/optimizer` and
    /// `/state` (written by the Training module's `CheckpointWriter`); ``load(_:)`` reads its model.
    public static let checkpointVersion = "2"
    /// The group holding the parameters: `/params/<HF name>`.
    public static let paramsGroup = "/params"
    /// The dataset holding the SentencePiece model's bytes.
    public static let tokenizerDataset = "/tokenizer/model"

    /// What a model file holds.
    public struct Contents {
        public let model: GemmaModel
        /// The SentencePiece model bytes stored with the weights, if any.
        public let tokenizer: [UInt8]?
    }

    /// A file that is not a GemmaTrain model file, or whose contents do not fit its config.
    public struct FormatError: Error, CustomStringConvertible {
        public let path: String, message: String
        public var description: String { "\(path): \(message)" }
    }

    /// Writes `model` (and the tokenizer bytes) to `path` atomically (``H5File/write(atomically:_:)``): a
    /// temporary file in the same directory is written, closed and `fsync`ed, then renamed over `path`, so
    /// an existing file is never left half-written; if a write fails (e.g. a full disk) the temporary file
    /// is removed and the error names the file and the reason.
    public static func save(_ model: GemmaModel, tokenizer: [UInt8]?, to path: String) throws {
        try H5File.write(atomically: path) { file in
            try file.setAttribute("format", format)
            try file.setAttribute("version", version)
            try file.setAttribute("kind", model.head.rawValue)
            try file.setAttribute("config", try model.config.jsonText(head: model.head))
            for (i, e) in model.parameters.entries.enumerated() {
                try model.parameters.withValues(i) {
                    try file.writeFloats(UnsafeBufferPointer(start: $0, count: e.count), shape: e.shape, to: "\(paramsGroup)/\(e.name)")
                }
            }
            if let tokenizer { try file.writeBytes(tokenizer, to: tokenizerDataset) }
        }
    }

    /// Reads a model file written by ``save(_:tokenizer:to:)``, or the model of a training checkpoint
    /// (version ``checkpointVersion``; a LoRA run's is merged into its base, ModelFile+LoRA.swift, or kept
    /// as the base with its adapters when split over a model axis or stored as bf16 — ``loadPlain(_:)``
    /// always merges); every
    /// tensor is checked against the config's shapes and its checksum.
    public static func load(_ path: String, tensorParallel: TensorParallel.Choice = { _ in nil }) throws -> Contents {
        let (file, config, head, tokenizer) = try open(path)
        if let header = try adapterHeader(file, path: path) {
            let split = try tensorParallel(config)
            let adapted = try loadAdapted(file, path: path, header: header, config: config, head: head, tensorParallel: split)
            // Merged unless split, or stored as bf16 (merging would make a Float32 copy of the base).
            let merge = split == nil && header.frozenDType != .bfloat16
            return Contents(model: merge ? adapted.merged() : adapted, tokenizer: tokenizer)
        }
        let model = GemmaModel(config: config, head: head, tensorParallel: try tensorParallel(config))
        if let name = try readParameters(file, path: path, into: model).first {
            throw FormatError(path: path, message: "missing dataset \(paramsGroup)/\(name)")
        }
        return Contents(model: model, tokenizer: tokenizer)
    }

    /// Opens a model file and reads its root attributes: the architecture, the head and the stored
    /// tokenizer (no weights).
    static func open(_ path: String) throws -> (file: H5File, config: GemmaConfig, head: GemmaModel.Head, tokenizer: [UInt8]?) {
        let file = try H5File.open(path)
        let format = try? file.stringAttribute("format")
        guard format == Self.format else {
            throw FormatError(path: path, message: "not a GemmaTrain checkpoint (root attribute format is \(format.map { "'\($0)'" } ?? "missing"))")
        }
        let version = try file.stringAttribute("version")
        guard version == Self.version || version == checkpointVersion else {
            throw FormatError(path: path, message: "attribute /@version is '\(version)'; this build reads \(Self.version) and \(checkpointVersion)")
        }
        let configText = try file.stringAttribute("config")
        let config: GemmaConfig
        do {
            config = try JSONDecoder().decode(GemmaConfig.self, from: Data(configText.utf8))
            try config.validate()
        } catch let error as DecodingError {
            throw FormatError(path: path, message: "attribute /@config is not a valid model config: \(error.summary)")
        } catch {
            throw FormatError(path: path, message: "attribute /@config is not a valid model config: \(error)")
        }
        let kind = (try? file.stringAttribute("kind")) ?? GemmaModel.Head.causalLM.rawValue
        guard let head = GemmaModel.Head(rawValue: kind) else {
            throw FormatError(path: path, message: "unknown model kind '\(kind)' (expected causal-lm or reward-model)")
        }
        let tokenizer = file.contains(tokenizerDataset) ? try file.readBytes(tokenizerDataset) : nil
        return (file, config, head, tokenizer)
    }

    /// Reads every parameter of `model`'s table (its shards under tensor parallelism; never LoRA
    /// adapters) that `file` holds, block by block into the model's storage (rounded when it keeps
    /// them as bf16); returns the names the file lacks.
    static func readParameters(_ file: H5File, path: String, into model: GemmaModel) throws -> [String] {
        var missing: [String] = []
        for (i, e) in model.parameters.entries.prefix(model.parameterTable.count).enumerated() {
            let dataset = "\(paramsGroup)/\(e.name)"
            guard file.contains(dataset) else {
                missing.append(e.name)
                continue
            }
            let shape = try file.shape(of: dataset)
            guard shape == e.sharding.fullShape else {
                throw FormatError(path: path, message: "dataset \(dataset) has shape \(shape), the config needs \(e.sharding.fullShape)")
            }
            try readBlock(file, dataset, e.sharding, into: model.parameters, entry: i)
        }
        return missing
    }

    /// Reads this rank's block of `dataset` (``Sharding/block``) into entry `entry` of `store`, a chunk
    /// of rows at a time (``readRows(_:_:offset:count:_:)``); rows past the block (the padding of a
    /// vocabulary split) are zero.
    static func readBlock(_ file: H5File, _ dataset: String, _ sharding: Sharding, into store: ParameterStore, entry: Int) throws {
        let block = sharding.block
        try readRows(file, dataset, offset: block.offset, count: block.count) { values, at in
            store.write(entry, at: at, from: values, count: values.count)
        }
        let (written, local) = (block.count.reduce(1, *), store.entries[entry].count)
        if written < local { store.write(entry, at: written, from: [Float](repeating: 0, count: local - written), count: local - written) }
    }

    /// Reads the block `offset`/`count` of `dataset` at most 16 Mi elements (64 MiB) at a time, whole
    /// rows of its first axis each time, so reading a 256k-row embedding never holds a second copy of it;
    /// `body` gets each chunk's values (row-major) and the position of its first element in the block.
    static func readRows(_ file: H5File, _ dataset: String, offset: [Int], count: [Int], _ body: ([Float], Int) throws -> Void) throws {
        let rowLength = count.dropFirst().reduce(1, *)
        let rowsPerRead = max(1, (16 << 20) / max(rowLength, 1))
        for row in stride(from: 0, to: count[0], by: rowsPerRead) {
            let rows = min(rowsPerRead, count[0] - row)
            try body(try file.readFloats(dataset, offset: [offset[0] + row] + offset.dropFirst(), count: [rows] + count.dropFirst()),
                     row * rowLength)
        }
    }
}

extension GemmaConfig {
    /// The config as Hugging Face `config.json` text (with the keys transformers expects for Gemma); a
    /// reward model is a one-label `GemmaForSequenceClassification`.
    public func jsonData(head: GemmaModel.Head = .causalLM) throws -> Data {
        var object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(self)) as! [String: Any]
        object["architectures"] = [head == .reward ? "GemmaForSequenceClassification" : "GemmaForCausalLM"]
        if head == .reward { object["id2label"] = ["0": "LABEL_0"] }
        object["model_type"] = "gemma"
        object["hidden_activation"] = "gelu_pytorch_tanh"
        object["attention_bias"] = false
        object["tie_word_embeddings"] = true
        object["torch_dtype"] = "float32"
        return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
    }

    /// ``jsonData(head:)`` as text: what the root `config` attribute of a `.h5` file holds.
    public func jsonText(head: GemmaModel.Head = .causalLM) throws -> String {
        String(decoding: try jsonData(head: head), as: UTF8.self)
    }
}
