import Checkpoint
import Foundation
import NN

/// LoRA checkpoints: a training checkpoint of a LoRA run holds only the trainable tensors in `/params`
/// (the adapters, and `score.weight` on a reward model) and names the frozen base it adapts in the root
/// attribute `lora` (JSON ``AdapterHeader``). Loading one loads that base, checks its checksum and
/// returns the base with the adapters merged in (``load(_:tensorParallel:)``), or unmerged
/// (``loadLoRA(_:)``).
extension ModelFile {
    /// The root attribute naming a LoRA checkpoint's adaptation and base.
    public static let loraAttribute = "lora"

    /// What the `lora` attribute holds.
    public struct AdapterHeader: Codable, Equatable, Sendable {
        /// PEFT's `r`, `lora_alpha` and `target_modules`.
        public var rank: Int
        public var alpha: Double
        public var targets: [String]
        /// The base model's path (`model.init` of the run) and ``GemmaModel/baseChecksum()`` of its weights.
        public var base: String
        public var baseChecksum: String
        /// How the run stored the base (`model.frozen_dtype`; absent = f32): the adapters were trained
        /// against these values, so the base is loaded the same way (and the checksum is of them).
        public var frozenDType: ParameterStore.FrozenDType?

        public init(lora: LoRA, base: String, baseChecksum: String, frozenDType: ParameterStore.FrozenDType = .float32) {
            (rank, alpha, targets, self.base, self.baseChecksum) = (lora.rank, lora.alpha, lora.targets, base, baseChecksum)
            self.frozenDType = frozenDType == .float32 ? nil : frozenDType
        }

        /// The adaptation it describes, or nil when the rank or a target is invalid.
        public var lora: LoRA? {
            rank > 0 && targets.allSatisfy(LoRA.targetNames.contains) ? LoRA(rank: rank, alpha: alpha, targets: targets) : nil
        }

        enum CodingKeys: String, CodingKey {
            case rank = "r", alpha = "lora_alpha", targets = "target_modules", base = "base_model", baseChecksum = "base_checksum"
            case frozenDType = "frozen_dtype"
        }

        /// The attribute's JSON text.
        public func jsonText() throws -> String { String(decoding: try JSONEncoder().encode(self), as: UTF8.self) }
    }

    /// The adapter header of an open file, or nil when it is not a LoRA checkpoint.
    static func adapterHeader(_ file: H5File, path: String) throws -> AdapterHeader? {
        guard file.hasAttribute(loraAttribute) else { return nil }
        let text = try file.stringAttribute(loraAttribute)
        guard let header = try? JSONDecoder().decode(AdapterHeader.self, from: Data(text.utf8)), header.lora != nil else {
            throw FormatError(path: path, message: "attribute /@\(loraAttribute) is not a valid LoRA header: \(text)")
        }
        return header
    }

    /// A LoRA checkpoint as trained: the base with its adapters (not merged), the header and the stored
    /// tokenizer. Throws, naming the file, when it is not a LoRA checkpoint.
    public static func loadLoRA(_ path: String) throws -> (model: GemmaModel, header: AdapterHeader, tokenizer: [UInt8]?) {
        let file = try H5File.open(path)
        let kind = (try? file.stringAttribute("kind")).flatMap(GemmaModel.Head.init(rawValue:)) ?? .causalLM
        guard file.hasAttribute("config"), let header = try adapterHeader(file, path: path) else {
            throw FormatError(path: path, message: "holds no LoRA adapters (not a checkpoint of a run with model.lora)")
        }
        let config: GemmaConfig
        do { config = try JSONDecoder().decode(GemmaConfig.self, from: Data(try file.stringAttribute("config").utf8)) } catch {
            throw FormatError(path: path, message: "attribute /@config is not a valid model config")
        }
        let tokenizer = file.contains(tokenizerDataset) ? try file.readBytes(tokenizerDataset) : nil
        return (try loadAdapted(file, path: path, header: header, config: config, head: kind), header, tokenizer)
    }

    /// The model at `path` as plain weights: a LoRA checkpoint's adapters merged into its base (as
    /// `convert` writes it and a run starts from it), any other model as it is.
    public static func loadPlain(_ path: String) throws -> GemmaModel {
        let model = try loadAny(path).model
        return model.lora == nil ? model : model.merged()
    }

    /// Loads the base `header` names (this rank's shards when `tensorParallel` is given), checks it is
    /// the one the adapters were trained on, reads the trainable tensors of `file` and returns the
    /// adapted model (not merged).
    static func loadAdapted(_ file: H5File, path: String, header: AdapterHeader, config: GemmaConfig,
                            head: GemmaModel.Head, tensorParallel: TensorParallel? = nil) throws -> GemmaModel {
        guard try describe(header.base).config == config else {
            throw FormatError(path: path, message: "base model \(header.base) has a different architecture from the adapters' config")
        }
        let model = GemmaModel(config: config, head: head, tensorParallel: tensorParallel, lora: header.lora!,
                               frozen: header.frozenDType ?? .float32)
        try loadWeights(header.base, into: model)
        let checksum = try baseChecksum(of: model, loadedFrom: header.base)
        guard checksum == header.baseChecksum else {
            throw FormatError(path: path, message: "base model \(header.base) has checksum \(checksum), the adapters were trained on \(header.baseChecksum)")
        }
        let store = model.parameters
        for (i, e) in store.entries.enumerated() where e.trainable {
            let dataset = "\(paramsGroup)/\(e.name)"
            guard file.contains(dataset) else { throw FormatError(path: path, message: "missing dataset \(dataset)") }
            let shape = try file.shape(of: dataset)
            guard shape == e.sharding.fullShape else {
                throw FormatError(path: path, message: "dataset \(dataset) has shape \(shape), the adapters need \(e.sharding.fullShape)")
            }
            try file.readFloats(dataset).values.withUnsafeBufferPointer { e.sharding.extract(from: $0.baseAddress!, into: store.tensor(i).data) }
        }
        return model
    }

    /// ``GemmaModel/baseChecksum()`` of `model`'s base, which was read from `path`: computed from the
    /// model when it is whole, else (a rank holding shards) from the file, so the value does not depend
    /// on the mesh.
    public static func baseChecksum(of model: GemmaModel, loadedFrom path: String) throws -> String {
        guard model.tensorParallel != nil else { return model.baseChecksum() }
        return try baseChecksum(of: path, config: model.config, frozen: model.frozenDType)
    }

    /// ``GemmaModel/baseChecksum()`` of the model at `path` (a `.h5` file or Hugging Face directory of
    /// architecture `config`) stored as `frozen`, computed from the file a tensor (or 16 Mi elements) at a
    /// time: what a rank holding only shards of the base records or checks.
    public static func baseChecksum(of path: String, config: GemmaConfig, frozen: ParameterStore.FrozenDType) throws -> String {
        var checksum = BaseChecksum(rounding: frozen == .bfloat16)
        let table = GemmaParameter.all(config).filter { $0.role != .score }
        if try isDirectory(path) {
            let weights = try HuggingFaceDirectory.open(path).weights
            for p in table {
                var full = [Float](repeating: 0, count: p.count)
                try full.withUnsafeMutableBufferPointer { try weights.readFloats(p.name, into: $0) }
                full.withUnsafeBufferPointer { checksum.add($0) }
            }
            return checksum.hex
        }
        let (file, _, _, _) = try open(path)
        guard try adapterHeader(file, path: path) == nil else {
            let merged = try loadPlain(path)  // a LoRA checkpoint as the base: its merged weights
            for i in merged.parameterTable.indices where merged.parameterTable[i].role != .score {
                merged.parameters.withValues(i) { checksum.add(UnsafeBufferPointer(start: $0, count: merged.parameters.entries[i].count)) }
            }
            return checksum.hex
        }
        for p in table {
            try readRows(file, "\(paramsGroup)/\(p.name)", offset: p.shape.map { _ in 0 }, count: p.shape) { values, _ in
                values.withUnsafeBufferPointer { checksum.add($0) }
            }
        }
        return checksum.hex
    }
}
