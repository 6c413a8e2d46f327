import ArgumentParser
import Foundation
import Gemma

/// `gemma-train init-model`: a randomly initialised model (Hugging Face's initialisation) saved as a
/// GemmaTrain `.h5` file with its tokenizer, the starting point for pretraining from scratch.
struct InitModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init-model",
        abstract: "Create a randomly initialised model file from a preset or a config.json.")

    @Option(help: "Preset: \(GemmaConfig.presets.keys.sorted().joined(separator: ", ")).")
    var preset: String?

    @Option(help: "A Hugging Face config.json (instead of --preset).")
    var config: String?

    @Option(help: "The SentencePiece tokenizer.model to store with it.")
    var tokenizer: String

    @Option(help: "Output .h5 file.")
    var out: String

    @Flag(help: "Replace an existing --out file.")
    var force = false

    @Option(parsing: .unconditional, help: "Initialisation seed.")
    var seed: UInt64 = 0

    func validate() throws {
        guard (preset == nil) != (config == nil) else { throw ValidationError("give exactly one of --preset and --config") }
        if let preset, GemmaConfig.presets[preset] == nil {
            throw ValidationError("unknown preset '\(preset)'; choose one of \(GemmaConfig.presets.keys.sorted().joined(separator: ", "))")
        }
    }

    func run() throws {
        try reportingErrors {
            try OutputPath.check(out, kind: .file, force: force, option: "--out")
            let modelConfig: GemmaConfig
            if let preset {
                modelConfig = GemmaConfig.presets[preset]!
            } else {
                let data = try Data(contentsOf: URL(fileURLWithPath: config!))
                do { modelConfig = try JSONDecoder().decode(GemmaConfig.self, from: data) } catch let error as DecodingError {
                    throw ValidationError("--config \(config!): not a Gemma config.json: \(error.summary)")
                }
            }
            try modelConfig.validate()
            let tok = try SentencePieceTokenizer(contentsOf: URL(fileURLWithPath: tokenizer))
            guard tok.vocabularySize <= modelConfig.vocabSize else {
                throw ValidationError("\(tokenizer) has \(tok.vocabularySize) pieces, more than vocab_size \(modelConfig.vocabSize)")
            }
            let model = GemmaModel(config: modelConfig)
            model.initialize(seed: seed)
            try ModelFile.save(model, tokenizer: [UInt8](tok.modelData), to: out)
            printError("wrote \(out): \(modelConfig.parameterCount.total) parameters")
        }
    }
}
