import ArgumentParser
import Checkpoint
import Foundation
import Gemma

/// `gemma-train convert`: Hugging Face directory <-> GemmaTrain `.h5` model file.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a Hugging Face Gemma directory to a GemmaTrain .h5 file, or back.",
        discussion: """
            --from a directory (config.json, *.safetensors, tokenizer.model) writes the .h5 file --to;
            --from an .h5 file writes a Hugging Face directory --to (created if needed).
            --from a LoRA checkpoint: --adapter writes its adapters as a PEFT adapter directory
            (adapter_config.json, adapter_model.safetensors); --merge writes the base with the adapters
            merged in as a plain Hugging Face directory.
            """)

    @Option(help: "Source: a Hugging Face model directory or a GemmaTrain .h5 file.")
    var from: String

    @Option(help: "Destination: an .h5 file (from a directory) or a directory (from an .h5 file).")
    var to: String

    @Option(help: "Weight type of an exported Hugging Face directory: f32 or bf16.")
    var dtype = "f32"

    @Option(parsing: .unconditional, help: "Split exported safetensors into shards of at most this many MB.")
    var maxShardMB: Int?

    @Option(help: "A SentencePiece tokenizer.model to store, replacing the source's.")
    var tokenizer: String?

    @Flag(help: "Replace an existing --to file, or write into a --to directory that is not empty.")
    var force = false

    @Flag(help: "From a LoRA checkpoint: write a PEFT adapter directory (the adapters only).")
    var adapter = false

    @Flag(help: "From a LoRA checkpoint: write a Hugging Face directory of the base with the adapters merged in.")
    var merge = false

    func validate() throws {
        if adapter && merge { throw ValidationError("--adapter and --merge exclude each other") }
        if (adapter || merge) && tokenizer != nil { throw ValidationError("--tokenizer does not apply to --adapter or --merge") }
        guard ["f32", "bf16"].contains(dtype) else { throw ValidationError("--dtype must be f32 or bf16, got '\(dtype)'") }
        if let maxShardMB, maxShardMB <= 0 { throw ValidationError("--max-shard-mb must be positive") }
    }

    func run() throws {
        try reportingErrors {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: from, isDirectory: &isDirectory) else {
                throw ValidationError("--from \(from): no such file or directory")
            }
            if adapter || merge {
                guard !isDirectory.boolValue else { throw ValidationError("--from \(from): --adapter and --merge read a LoRA checkpoint (.h5)") }
                return try convertLoRA()
            }
            try OutputPath.check(to, kind: isDirectory.boolValue ? .file : .directory, force: force, option: "--to")
            // Everything is read and checked before anything is written.
            let contents = try ModelFile.loadAny(from)
            let model = contents.model.lora == nil ? contents.model : contents.model.merged()  // a bf16 LoRA checkpoint loads unmerged
            var tokenizerBytes = contents.tokenizer
            if let tokenizer {
                let replacement = try SentencePieceTokenizer(contentsOf: URL(fileURLWithPath: tokenizer))
                guard replacement.vocabularySize <= model.config.vocabSize else {
                    throw ValidationError("--tokenizer \(tokenizer) has \(replacement.vocabularySize) pieces, more than vocab_size \(model.config.vocabSize) of \(from)")
                }
                tokenizerBytes = [UInt8](replacement.modelData)
            }
            if isDirectory.boolValue {
                try ModelFile.save(model, tokenizer: tokenizerBytes, to: to)
            } else {
                try HuggingFaceDirectory.save(model, tokenizer: tokenizerBytes, to: to,
                                              dtype: dtype == "bf16" ? .bf16 : .f32,
                                              maxShardBytes: maxShardMB.map { $0 * 1_000_000 })
            }
            let counts = contents.model.config.parameterCount
            printError("converted \(from) -> \(to): \(counts.total) parameters\(tokenizerBytes == nil ? ", no tokenizer" : "")")
        }
    }

    /// `--adapter` or `--merge` of a LoRA checkpoint (base loaded and checked against its checksum).
    func convertLoRA() throws {
        try OutputPath.check(to, kind: .directory, force: force, option: "--to")
        let (model, header, tokenizer) = try ModelFile.loadLoRA(from)
        if adapter {
            try PEFTAdapter.save(model, base: header.base, to: to)
            printError("converted \(from) -> \(to): PEFT adapter of rank \(header.rank) on \(header.targets.joined(separator: ", ")) "
                       + "(\(model.parameters.trainable.count) parameters; base \(header.base))")
        } else {
            try HuggingFaceDirectory.save(model.merged(), tokenizer: tokenizer, to: to, dtype: dtype == "bf16" ? .bf16 : .f32,
                                          maxShardBytes: maxShardMB.map { $0 * 1_000_000 })
            printError("converted \(from) -> \(to): base \(header.base) with the adapters merged, \(model.config.parameterCount.total) parameters")
        }
    }
}
