import Checkpoint
import Foundation

/// Hugging Face Gemma model directories: `config.json`, `model.safetensors` (or shards with
/// `model.safetensors.index.json`) and `tokenizer.model`, as `save_pretrained` writes them.
public enum HuggingFaceDirectory {
    public static let configFileName = "config.json"
    public static let tokenizerFileName = "tokenizer.model"

    /// A directory whose contents do not make a Gemma model.
    public struct FormatError: Error, CustomStringConvertible {
        public let path: String, message: String
        public var description: String { "\(path): \(message)" }
    }

    /// Reads the model (F32, BF16 or F16 weights, converted to Float32) and, when present, the tokenizer.
    /// `lm_head.weight`, if present, is not read: Gemma ties the output projection to the embedding.
    /// - Parameter tensorParallel: the split of the model over a `model` axis, chosen from its config (each
    ///   tensor is then read whole and only this rank's shard kept).
    public static func load(_ directory: String, tensorParallel: TensorParallel.Choice = { _ in nil }) throws -> ModelFile.Contents {
        let (config, head, weights, tokenizer) = try open(directory)
        let model = GemmaModel(config: config, head: head, tensorParallel: try tensorParallel(config))
        if let name = try readParameters(weights, directory: directory, into: model).first {
            throw FormatError(path: directory, message: "missing tensor \(name)")
        }
        return ModelFile.Contents(model: model, tokenizer: tokenizer)
    }

    /// Reads a directory's config, the weights' headers (the head is a reward model's when it has
    /// `score.weight`) and the tokenizer; no weights.
    static func open(_ directory: String) throws -> (config: GemmaConfig, head: GemmaModel.Head, weights: SafeTensorsDirectory, tokenizer: [UInt8]?) {
        let dir = URL(fileURLWithPath: directory)
        let configURL = dir.appendingPathComponent(configFileName)
        let config: GemmaConfig
        do {
            config = try JSONDecoder().decode(GemmaConfig.self, from: Data(contentsOf: configURL))
        } catch let error as DecodingError {
            throw FormatError(path: configURL.path, message: "not a Gemma config: \(error.summary)")
        } catch {
            throw FormatError(path: configURL.path, message: "cannot read: \(FileSystemError.reason(of: error))")
        }
        do { try config.validate() } catch { throw FormatError(path: configURL.path, message: "\(error)") }

        let weights = try SafeTensorsDirectory(path: directory)
        let tokenizerURL = dir.appendingPathComponent(tokenizerFileName)
        let tokenizer = FileManager.default.fileExists(atPath: tokenizerURL.path)
            ? [UInt8](try Data(contentsOf: tokenizerURL)) : nil
        return (config, weights.contains(GemmaParameter.name(.score)) ? .reward : .causalLM, weights, tokenizer)
    }

    /// Reads every parameter of `model`'s table that `weights` holds (converted to Float32, this rank's
    /// shard kept; never LoRA adapters) into the model; returns the names the directory lacks.
    static func readParameters(_ weights: SafeTensorsDirectory, directory: String, into model: GemmaModel) throws -> [String] {
        var missing: [String] = []
        for (i, e) in model.parameters.entries.prefix(model.parameterTable.count).enumerated() {
            guard weights.contains(e.name) else {
                missing.append(e.name)
                continue
            }
            let info = try weights.info(e.name)
            guard info.shape == e.sharding.fullShape else {
                throw FormatError(path: directory, message: "tensor \(e.name) has shape \(info.shape), config.json needs \(e.sharding.fullShape)")
            }
            try model.loadParameter(i) { try weights.readFloats(e.name, into: $0) }
        }
        return missing
    }

    /// Writes `model` as a Hugging Face directory (created if needed): `config.json`, the weights as
    /// `model.safetensors` (F32 by default, or BF16) or shards of at most `maxShardBytes` with their
    /// index, and `tokenizer.model` when given.
    public static func save(_ model: GemmaModel, tokenizer: [UInt8]?, to directory: String,
                            dtype: SafeTensors.DType = .f32, maxShardBytes: Int? = nil) throws {
        let dir = URL(fileURLWithPath: directory)
        try Directories.create(directory)
        let tensors = model.parameters.entries.enumerated().map { i, e in
            SafeTensorsWriter.Tensor(name: e.name, shape: e.shape) { buffer in
                model.parameters.withValues(i) { buffer.baseAddress!.update(from: $0, count: e.count) }
            }
        }
        _ = try SafeTensorsWriter(dtype: dtype).writeModel(tensors, toDirectory: directory, maxShardBytes: maxShardBytes)
        var config = try JSONSerialization.jsonObject(with: model.config.jsonData(head: model.head)) as! [String: Any]
        config["torch_dtype"] = dtype == .bf16 ? "bfloat16" : dtype == .f16 ? "float16" : "float32"
        try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
            .write(to: dir.appendingPathComponent(configFileName), options: .atomic)
        if let tokenizer {
            try Data(tokenizer).write(to: dir.appendingPathComponent(tokenizerFileName), options: .atomic)
        }
    }
}

extension ModelFile {
    /// Loads a model from a GemmaTrain `.h5` file or a Hugging Face directory, whichever `path` is;
    /// `tensorParallel` chooses this rank's split from the file's config (nil: the whole model).
    public static func loadAny(_ path: String, tensorParallel: TensorParallel.Choice = { _ in nil }) throws -> Contents {
        try isDirectory(path) ? try HuggingFaceDirectory.load(path, tensorParallel: tensorParallel)
                              : try load(path, tensorParallel: tensorParallel)
    }

    /// What a `.h5` file or Hugging Face directory holds, without its weights.
    public struct Description {
        public let config: GemmaConfig
        public let head: GemmaModel.Head
        public let tokenizer: [UInt8]?
    }

    /// The architecture, head and tokenizer of `path` (a `.h5` file or Hugging Face directory), reading
    /// no weights.
    public static func describe(_ path: String) throws -> Description {
        if try isDirectory(path) {
            let (config, head, _, tokenizer) = try HuggingFaceDirectory.open(path)
            return Description(config: config, head: head, tokenizer: tokenizer)
        }
        let (_, config, head, tokenizer) = try open(path)
        return Description(config: config, head: head, tokenizer: tokenizer)
    }

    /// Reads the weights of `path` into `model` (built for the same architecture; its shards, and its
    /// frozen bf16 storage if it has one): one tensor, or 16 Mi elements, at a time, so the model never
    /// exists twice. Parameters `path` lacks (a reward head, LoRA adapters) are left as they are and
    /// returned by name. A LoRA checkpoint is read merged (``load(_:tensorParallel:)``).
    @discardableResult
    public static func loadWeights(_ path: String, into model: GemmaModel) throws -> [String] {
        if try isDirectory(path) {
            let (config, _, weights, _) = try HuggingFaceDirectory.open(path)
            try requireArchitecture(config, of: model, path: path)
            return try HuggingFaceDirectory.readParameters(weights, directory: path, into: model)
        }
        let (file, config, _, _) = try open(path)
        try requireArchitecture(config, of: model, path: path)
        guard try adapterHeader(file, path: path) == nil else {
            precondition(model.tensorParallel == nil, "loadWeights: a LoRA checkpoint into a split model")
            return model.copyParameters(from: try loadPlain(path))
        }
        return try readParameters(file, path: path, into: model)
    }

    private static func requireArchitecture(_ config: GemmaConfig, of model: GemmaModel, path: String) throws {
        guard config == model.config else { throw FormatError(path: path, message: "has a different architecture from the model it is loaded into") }
    }

    /// Whether `path` is a directory; throws when it does not exist.
    static func isDirectory(_ path: String) throws -> Bool {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FormatError(path: path, message: "no such file or directory")
        }
        return isDirectory.boolValue
    }
}
