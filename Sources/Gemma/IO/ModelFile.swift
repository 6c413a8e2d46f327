import Checkpoint
import Foundation

/// The model part of a GemmaTrain checkpoint (`.h5`, layout in Docs/Checkpoints.md):
///
///     /                   attrs format = "gemma-train", version = "1", kind = "causal-lm",
///                         config = the model config as HF config.json text
///     /params/<HF name>   every parameter, full Float32 tensor, Fletcher-32 checksummed
///     /tokenizer/model    the SentencePiece model file's bytes (when known)
public enum ModelFile {
    public static let format = "gemma-train"
    public static let version = "1"

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

    /// Writes `model` (and the tokenizer bytes) to `path` atomically: a temporary file in the same
    /// directory is written, flushed and closed, then renamed over `path`, so an existing file is never
    /// left half-written.
    public static func save(_ model: GemmaModel, tokenizer: [UInt8]?, to path: String) throws {
        try AtomicFile.write(to: path) { temporary in
            let file = try H5File.create(temporary)
            try file.setAttribute("format", format)
            try file.setAttribute("version", version)
            try file.setAttribute("kind", model.head.rawValue)
            try file.setAttribute("config", String(decoding: try model.config.jsonData(head: model.head), as: UTF8.self))
            for (i, e) in model.parameters.entries.enumerated() {
                let t = model.parameters.tensor(i)
                try file.writeFloats(UnsafeBufferPointer(start: t.data, count: e.count), shape: e.shape,
                                     to: "/params/\(e.name)")
            }
            if let tokenizer { try file.writeBytes(tokenizer, to: "/tokenizer/model") }
            try file.flush()
            try file.close()
        }
    }

    /// Reads a model file written by ``save(_:tokenizer:to:)``; every tensor is checked against the
    /// config's shapes and its checksum.
    public static func load(_ path: String) throws -> Contents {
        let file = try H5File.open(path)
        let format = try? file.stringAttribute("format")
        guard format == Self.format else {
            throw FormatError(path: path, message: "not a GemmaTrain checkpoint (root attribute format is \(format.map { "'\($0)'" } ?? "missing"))")
        }
        let configText = try file.stringAttribute("config")
        let config: GemmaConfig
        do {
            config = try JSONDecoder().decode(GemmaConfig.self, from: Data(configText.utf8))
            try config.validate()
        } catch {
            throw FormatError(path: path, message: "attribute /@config is not a valid model config: \(error)")
        }
        let kind = (try? file.stringAttribute("kind")) ?? GemmaModel.Head.causalLM.rawValue
        guard let head = GemmaModel.Head(rawValue: kind) else {
            throw FormatError(path: path, message: "unknown model kind '\(kind)' (expected causal-lm or reward-model)")
        }
        let model = GemmaModel(config: config, head: head)
        for (i, e) in model.parameters.entries.enumerated() {
            let dataset = "/params/\(e.name)"
            guard file.contains(dataset) else { throw FormatError(path: path, message: "missing dataset \(dataset)") }
            let (shape, values) = try file.readFloats(dataset)
            guard shape == e.shape else {
                throw FormatError(path: path, message: "dataset \(dataset) has shape \(shape), the config needs \(e.shape)")
            }
            values.withUnsafeBufferPointer { model.parameters.tensor(i).data.update(from: $0.baseAddress!, count: e.count) }
        }
        let tokenizer = file.contains("/tokenizer/model") ? try file.readBytes("/tokenizer/model") : nil
        return Contents(model: model, tokenizer: tokenizer)
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
}

/// Writes files so that a crash never leaves a half-written file under the final name.
enum AtomicFile {
    /// Calls `body` with a temporary path next to `path`, then renames it over `path`. The temporary
    /// file is removed if `body` throws.
    static func write(to path: String, _ body: (String) throws -> Void) throws {
        let url = URL(fileURLWithPath: path)
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())").path
        do {
            try body(temporary)
            guard rename(temporary, path) == 0 else {
                throw FormatError(path: path, message: "cannot rename \(temporary) to it: \(String(cString: strerror(errno)))")
            }
        } catch {
            unlink(temporary)
            throw error
        }
    }

    typealias FormatError = ModelFile.FormatError
}
