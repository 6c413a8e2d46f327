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
        let model = GemmaModel(config: config, head: weights.contains(GemmaParameter.name(.score)) ? .reward : .causalLM,
                               tensorParallel: try tensorParallel(config))
        for (i, e) in model.parameters.entries.enumerated() {
            guard weights.contains(e.name) else {
                throw FormatError(path: directory, message: "missing tensor \(e.name)")
            }
            let info = try weights.info(e.name)
            guard info.shape == e.sharding.fullShape else {
                throw FormatError(path: directory, message: "tensor \(e.name) has shape \(info.shape), config.json needs \(e.sharding.fullShape)")
            }
            try model.loadParameter(i) { try weights.readFloats(e.name, into: $0) }
        }
        let tokenizerURL = dir.appendingPathComponent(tokenizerFileName)
        let tokenizer = FileManager.default.fileExists(atPath: tokenizerURL.path)
            ? [UInt8](try Data(contentsOf: tokenizerURL)) : nil
        return ModelFile.Contents(model: model, tokenizer: tokenizer)
    }

    /// Writes `model` as a Hugging Face directory (created if needed): `config.json`, the weights as
    /// `model.safetensors` (F32 by default, or BF16) or shards of at most `maxShardBytes` with their
    /// index, and `tokenizer.model` when given.
    public static func save(_ model: GemmaModel, tokenizer: [UInt8]?, to directory: String,
                            dtype: SafeTensors.DType = .f32, maxShardBytes: Int? = nil) throws {
        let dir = URL(fileURLWithPath: directory)
        try Directories.create(directory)
        let tensors = model.parameters.entries.enumerated().map { i, e in
            let t = model.parameters.tensor(i)
            return SafeTensorsWriter.Tensor(name: e.name, shape: e.shape) { buffer in
                buffer.baseAddress!.update(from: t.data, count: e.count)
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
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FormatError(path: path, message: "no such file or directory")
        }
        return isDirectory.boolValue ? try HuggingFaceDirectory.load(path, tensorParallel: tensorParallel)
                                     : try load(path, tensorParallel: tensorParallel)
    }
}
