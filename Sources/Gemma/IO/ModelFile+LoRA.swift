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

    /// Loads the base `header` names, checks it is the one the adapters were trained on, reads the
    /// trainable tensors of `file` and returns the adapted model (not merged).
    static func loadAdapted(_ file: H5File, path: String, header: AdapterHeader, config: GemmaConfig,
                            head: GemmaModel.Head) throws -> GemmaModel {
        guard try describe(header.base).config == config else {
            throw FormatError(path: path, message: "base model \(header.base) has a different architecture from the adapters' config")
        }
        let model = GemmaModel(config: config, head: head, lora: header.lora!, frozen: header.frozenDType ?? .float32)
        try loadWeights(header.base, into: model)
        let checksum = model.baseChecksum()
        guard checksum == header.baseChecksum else {
            throw FormatError(path: path, message: "base model \(header.base) has checksum \(checksum), the adapters were trained on \(header.baseChecksum)")
        }
        let store = model.parameters
        for (i, e) in store.entries.enumerated() where e.trainable {
            let dataset = "\(paramsGroup)/\(e.name)"
            guard file.contains(dataset) else { throw FormatError(path: path, message: "missing dataset \(dataset)") }
            let shape = try file.shape(of: dataset)
            guard shape == e.shape else {
                throw FormatError(path: path, message: "dataset \(dataset) has shape \(shape), the adapters need \(e.shape)")
            }
            store.tensor(i).data.update(from: try file.readFloats(dataset).values, count: e.count)
        }
        return model
    }
}
