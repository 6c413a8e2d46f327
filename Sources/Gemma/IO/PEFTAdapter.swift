import Checkpoint
import Foundation

/// A PEFT LoRA adapter directory, as `peft.PeftModel.save_pretrained` writes it and
/// `PeftModel.from_pretrained(base, DIR)` reads it:
///
///     adapter_config.json          {"peft_type": "LORA", "r", "lora_alpha", "target_modules", ...}
///     adapter_model.safetensors    base_model.model.<HF name of the module>.lora_A.weight  [r, in]
///                                  base_model.model.<HF name of the module>.lora_B.weight  [out, r]
///
/// Only plain LoRA of a causal LM is read or written: no rsLoRA, DoRA, bias, per-module ranks or extra
/// trained modules (each is refused with the field's name).
public enum PEFTAdapter {
    public static let configFile = "adapter_config.json"
    public static let weightsFile = "adapter_model.safetensors"
    /// What PEFT puts before the model's own parameter names.
    public static let keyPrefix = "base_model.model."

    /// Writes the adapters of `model` (a causal LM with ``GemmaModel/lora``) into `directory` (created if
    /// needed); `base` goes into `base_model_name_or_path`.
    public static func save(_ model: GemmaModel, base: String, to directory: String) throws {
        guard let lora = model.lora, model.head == .causalLM else {
            throw ModelFile.FormatError(path: directory, message: "a PEFT adapter needs a causal language model with LoRA adapters")
        }
        try Directories.create(directory)
        let config: [String: Any] = [
            "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": lora.rank, "lora_alpha": lora.alpha, "lora_dropout": 0.0,
            "target_modules": lora.targets, "base_model_name_or_path": base, "bias": "none", "fan_in_fan_out": false,
            "inference_mode": true, "init_lora_weights": true, "use_rslora": false, "use_dora": false,
            "modules_to_save": NSNull(), "rank_pattern": [String: Int](), "alpha_pattern": [String: Double](),
        ]
        let json = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
        let configPath = (directory as NSString).appendingPathComponent(configFile)
        do { try json.write(to: URL(fileURLWithPath: configPath), options: .atomic) } catch {
            throw ModelFile.FormatError(path: configPath, message: "cannot write: \(FileSystemError.reason(of: error))")
        }
        let store = model.parameters
        let tensors = store.entries.enumerated().filter { $0.element.trainable }.map { i, e in
            SafeTensorsWriter.Tensor(name: keyPrefix + e.name, shape: e.shape,
                                     values: Array(UnsafeBufferPointer(start: store.tensor(i).data, count: e.count)))
        }
        try SafeTensorsWriter().write(tensors, to: (directory as NSString).appendingPathComponent(weightsFile))
    }

    /// The adaptation an adapter directory describes (its `adapter_config.json`).
    public static func readConfig(_ directory: String) throws -> LoRA {
        let path = (directory as NSString).appendingPathComponent(configFile)
        let fail = { (message: String) in ModelFile.FormatError(path: path, message: message) }
        guard let data = FileManager.default.contents(atPath: path) else { throw fail("cannot read (not a PEFT adapter directory?)") }
        guard let config = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { throw fail("not a JSON object") }
        guard config["peft_type"] as? String == "LORA" else { throw fail("peft_type is \(config["peft_type"] ?? "missing"), not LORA") }
        guard let rank = config["r"] as? Int, rank > 0 else { throw fail("r must be a positive integer") }
        guard let alpha = (config["lora_alpha"] as? NSNumber)?.doubleValue else { throw fail("lora_alpha must be a number") }
        let targets: [String]
        if let list = config["target_modules"] as? [String] { targets = list } else { throw fail("target_modules must be a list of module names") }
        if let unknown = targets.first(where: { !LoRA.targetNames.contains($0) }) {
            throw fail("target_modules: '\(unknown)' is not one of \(LoRA.targetNames.joined(separator: ", "))")
        }
        for flag in ["use_rslora", "use_dora", "fan_in_fan_out"] where config[flag] as? Bool == true {
            throw fail("\(flag) is true; only plain LoRA is supported")
        }
        if let bias = config["bias"] as? String, bias != "none" { throw fail("bias is '\(bias)'; only none is supported") }
        for key in ["rank_pattern", "alpha_pattern"] where !((config[key] as? [String: Any])?.isEmpty ?? true) {
            throw fail("\(key) is not empty; only one rank and alpha for every module is supported")
        }
        if let saved = config["modules_to_save"], !(saved is NSNull) { throw fail("modules_to_save is set; only adapters are supported") }
        return LoRA(rank: rank, alpha: alpha, targets: targets)
    }

    /// Fills the adapters of `model` from the adapter directory, whose adaptation (rank, alpha, targets)
    /// must be the model's and whose tensors must have the model's shapes.
    public static func load(_ directory: String, into model: GemmaModel) throws {
        let lora = try readConfig(directory)
        guard lora == model.lora else {
            let describe = { (l: LoRA?) in l.map { "r \($0.rank), lora_alpha \($0.alpha), target_modules \($0.targets.joined(separator: ","))" } ?? "no LoRA" }
            throw ModelFile.FormatError(path: directory, message: "the adapter has \(describe(lora)), the model \(describe(model.lora))")
        }
        let path = (directory as NSString).appendingPathComponent(weightsFile)
        let file = try SafeTensorsFile(path: path)
        let store = model.parameters
        for (i, e) in store.entries.enumerated().dropFirst(model.parameterTable.count) {
            let key = keyPrefix + e.name
            guard file.contains(key) else { throw ModelFile.FormatError(path: path, message: "missing tensor \(key)") }
            let shape = try file.info(key).shape
            guard shape == e.shape else {
                throw ModelFile.FormatError(path: path, message: "tensor \(key) has shape \(shape), the model needs \(e.shape)")
            }
            try file.readFloats(key, into: UnsafeMutableBufferPointer(start: store.tensor(i).data, count: e.count))
        }
        let expected = Set(store.entries.dropFirst(model.parameterTable.count).map { keyPrefix + $0.name })
        if let extra = file.names.first(where: { !expected.contains($0) }) {
            throw ModelFile.FormatError(path: path, message: "unexpected tensor \(extra) (not an adapter of this model)")
        }
    }
}
