import Checkpoint
import Foundation
import Gemma

/// Reads a GemmaTrain `.h5` file: a training checkpoint (version 2: model, optimizer moments, state,
/// tokenizer) or a model file (version 1, written by `ModelFile`: model and tokenizer only). Every rank
/// can open it and read the tensors, or just its block of each (``read(_:name:offset:count:)``).
///
/// Every error is a ``CheckpointError`` naming the file and the dataset or attribute concerned; a
/// damaged byte in a tensor fails its Fletcher-32 checksum when read.
public final class CheckpointReader {
    /// The path as given; errors name it.
    public let path: String
    /// The root `version`: ``ModelFile/version`` ("1") or ``ModelFile/checkpointVersion`` ("2").
    public let version: String
    /// Language model or reward model (root `kind`).
    public let kind: GemmaModel.Head
    /// The model config as stored: Hugging Face `config.json` text (root `config`).
    public let modelConfigJSON: String
    /// The model config, decoded and validated.
    public let modelConfig: GemmaConfig
    /// The training state; nil for a version-1 model file.
    public let state: CheckpointState?
    private let file: H5File

    private init(path: String, file: H5File) throws {
        self.path = path
        self.file = file
        let format = try? file.stringAttribute("format")
        guard format == ModelFile.format else {
            throw CheckpointError(file: path, object: "attribute /@format",
                                  reason: "is \(format.map { "'\($0)'" } ?? "missing"), not '\(ModelFile.format)': not a GemmaTrain file")
        }
        version = try file.stringAttribute("version")
        guard version == ModelFile.version || version == ModelFile.checkpointVersion else {
            throw CheckpointError(file: path, object: "attribute /@version",
                                  reason: "is '\(version)'; this build reads \(ModelFile.version) and \(ModelFile.checkpointVersion)")
        }
        let kindName = try file.stringAttribute("kind")
        guard let kind = GemmaModel.Head(rawValue: kindName) else {
            throw CheckpointError(file: path, object: "attribute /@kind",
                                  reason: "is '\(kindName)', not causal-lm or reward-model")
        }
        self.kind = kind
        modelConfigJSON = try file.stringAttribute("config")
        do {
            modelConfig = try JSONDecoder().decode(GemmaConfig.self, from: Data(modelConfigJSON.utf8))
            try modelConfig.validate()
        } catch let error as DecodingError {
            throw CheckpointError(file: path, object: "attribute /@config", reason: "not a model config: \(error.summary)")
        } catch {
            throw CheckpointError(file: path, object: "attribute /@config", reason: "\(error)")
        }
        state = version == ModelFile.checkpointVersion ? try CheckpointState(reading: file, path: path, kind: kind) : nil
    }

    /// Opens `path`, checks its `format` and `version`, and reads its config and state (not its tensors).
    /// - Throws: ``CheckpointError`` naming the file (e.g. missing, truncated, not HDF5) or the attribute
    ///   that is missing or wrong.
    public static func open(_ path: String) throws -> CheckpointReader {
        try wrapping(path) { try CheckpointReader(path: path, file: try H5File.open(path)) }
    }

    /// A LoRA checkpoint's adaptation and base (root attribute `lora`); nil for any other file.
    public func adapterHeader() throws -> ModelFile.AdapterHeader? {
        guard file.hasAttribute(ModelFile.loraAttribute) else { return nil }
        let text = try wrapping(path) { try file.stringAttribute(ModelFile.loraAttribute) }
        guard let header = try? JSONDecoder().decode(ModelFile.AdapterHeader.self, from: Data(text.utf8)) else {
            throw CheckpointError(file: path, object: "attribute /@\(ModelFile.loraAttribute)", reason: "not a LoRA header: \(text)")
        }
        return header
    }

    /// The training state, or an error for a version-1 model file (which has none).
    public func trainingState() throws -> CheckpointState {
        guard let state else {
            throw CheckpointError(file: path, reason: "a version \(version) model file without training state (optimizer, "
                                  + "data cursor); it can start a run as model.init but cannot be resumed from")
        }
        return state
    }

    /// The names of the tensors in `group`, sorted (empty if the group is absent).
    public func tensorNames(_ group: TensorGroup) throws -> [String] {
        guard file.contains(group.path) else { return [] }
        return try wrapping(path, objectKind: "group") {
            try file.datasets(under: group.path).map { String($0.dropFirst(group.path.count + 1)) }
        }
    }

    /// The shape of tensor `name` in `group`, without reading it.
    public func shape(_ group: TensorGroup, name: String) throws -> [Int] {
        try wrapping(path, objectKind: "dataset") { try file.shape(of: group.dataset(name)) }
    }

    /// Reads the full tensor `name` of `group`, checksum-verified.
    /// - Throws: ``CheckpointError`` naming the file and dataset if it is missing or damaged.
    public func read(_ group: TensorGroup, name: String) throws -> (shape: [Int], values: [Float]) {
        try wrapping(path, objectKind: "dataset") { try file.readFloats(group.dataset(name)) }
    }

    /// Reads the block of tensor `name` of `group` that starts at `offset` and spans `count` along each
    /// axis (a rank's shard, e.g. rows `r ..< r + n`: `offset: [r, 0], count: [n, columns]`),
    /// checksum-verified chunk by chunk.
    public func read(_ group: TensorGroup, name: String, offset: [Int], count: [Int]) throws -> [Float] {
        try wrapping(path, objectKind: "dataset") { try file.readFloats(group.dataset(name), offset: offset, count: count) }
    }

    /// The SentencePiece model's bytes stored with the model, if any.
    public func tokenizer() throws -> [UInt8]? {
        guard file.contains(ModelFile.tokenizerDataset) else { return nil }
        return try wrapping(path, objectKind: "dataset") { try file.readBytes(ModelFile.tokenizerDataset) }
    }

    /// Throws unless the checkpoint holds a model of `kind` with exactly `config`, naming the first
    /// differing Hugging Face key, e.g. `model config: num_hidden_layers: checkpoint 2, run 4`.
    public func checkModel(_ config: GemmaConfig, kind: GemmaModel.Head) throws {
        guard self.kind == kind else {
            throw CheckpointError(file: path, object: "model kind", reason: "checkpoint \(self.kind.rawValue), run \(kind.rawValue)")
        }
        if let difference = modelConfig.firstDifference(from: config) {
            throw CheckpointError(file: path, object: "model config",
                                  reason: "\(difference.key): checkpoint \(difference.mine), run \(difference.theirs)")
        }
    }

    // MARK: Verification

    /// One dataset's verification: its shape (nil if even that is unreadable) and what failed, if anything.
    public struct DatasetCheck: Sendable {
        public let dataset: String
        public let shape: [Int]?
        public let error: CheckpointError?
    }

    /// Reads every dataset in full (a few chunks at a time), so a damaged or missing chunk anywhere is
    /// found now rather than mid-load.
    /// - Returns: Each dataset, in path order, with its shape and error.
    /// - Throws: ``CheckpointError`` only if the file's groups cannot be listed.
    public func checkDatasets() throws -> [DatasetCheck] {
        try wrapping(path, objectKind: "group") { try file.datasets() }.map { dataset in
            let shape = try? file.shape(of: dataset)
            do {
                try file.verify(dataset)
                return DatasetCheck(dataset: dataset, shape: shape, error: nil)
            } catch let error as H5Error {
                return DatasetCheck(dataset: dataset, shape: shape, error: CheckpointError(file: path, error, objectKind: "dataset"))
            }
        }
    }

    /// Checks the whole file: every dataset reads back (checksums included) and, for a training
    /// checkpoint, every parameter has both optimizer moments of its shape.
    /// - Throws: The first ``CheckpointError`` found, naming the file and dataset.
    public func verify() throws {
        if let failed = try checkDatasets().first(where: { $0.error != nil }) { throw failed.error! }
        guard state != nil else { return }
        let params = try tensorNames(.params)
        guard !params.isEmpty else {
            throw CheckpointError(file: path, object: "group \(TensorGroup.params.path)", reason: "holds no parameters")
        }
        for group in [TensorGroup.adamM, .adamV] {
            let moments = Set(try tensorNames(group))
            for name in params {
                guard moments.contains(name) else {
                    throw CheckpointError(file: path, object: "dataset \(group.dataset(name))", reason: "missing")
                }
                let (expected, found) = (try shape(.params, name: name), try shape(group, name: name))
                guard expected == found else {
                    throw CheckpointError(file: path, object: "dataset \(group.dataset(name))",
                                          reason: "shape \(found) differs from the parameter's \(expected)")
                }
            }
            if let extra = moments.subtracting(params).sorted().first {
                throw CheckpointError(file: path, object: "dataset \(group.dataset(extra))",
                                      reason: "has no parameter \(TensorGroup.params.dataset(extra))")
            }
        }
    }
}

/// Runs `body`, turning an ``H5Error`` into a ``CheckpointError`` naming `path`.
private func wrapping<T>(_ path: String, objectKind: String = "object", _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as H5Error {
        throw CheckpointError(file: path, error, objectKind: objectKind)
    }
}
