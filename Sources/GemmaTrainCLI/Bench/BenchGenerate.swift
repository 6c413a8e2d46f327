import ArgumentParser
import Autograd
import Foundation
import Gemma

/// `gemma-train bench generate`: batch-1 generation speed with the KV cache, on a randomly initialised
/// model of a preset architecture (speed does not depend on the weights).
struct BenchGenerate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Time generation with the KV cache, one sequence or a batch; print one JSON line.")

    @Option(help: "Model preset: \(GemmaConfig.presets.keys.sorted().joined(separator: ", ")).")
    var preset = "bench"

    @Option(parsing: .unconditional, help: "Prompt length in tokens.")
    var promptTokens = 32

    @Option(parsing: .unconditional, help: "Tokens to generate.")
    var tokens = 128

    @Option(parsing: .unconditional, help: "Sequences decoded together (1: the single-sequence Generator).")
    var batch = 1

    func validate() throws {
        guard GemmaConfig.presets[preset] != nil else {
            throw ValidationError("unknown preset '\(preset)'; choose one of \(GemmaConfig.presets.keys.sorted().joined(separator: ", "))")
        }
        guard promptTokens >= 1, tokens >= 1 else { throw ValidationError("--prompt-tokens and --tokens must be at least 1") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
    }

    func run() throws {
        let config = GemmaConfig.presets[preset]!
        guard promptTokens + tokens < config.maxPositionEmbeddings else {
            throw ValidationError("prompt + generated tokens must stay below max_position_embeddings \(config.maxPositionEmbeddings)")
        }
        let model = GemmaModel(config: config)
        model.initialize(seed: 1)
        let prompt = (0..<promptTokens).map { Int32(3 + $0 % (config.vocabSize - 3)) }
        if batch > 1 { return try runBatch(model, config: config) }
        // Warm-up (buffer pool, OpenBLAS threads), then the timed run.
        _ = try Generator(model: model, options: SamplingOptions(temperature: 0), stopTokens: [])
            .generate(prompt: prompt, maxTokens: 8)
        let generator = Generator(model: model, options: SamplingOptions(temperature: 0), stopTokens: [])
        let start = ContinuousClock.now
        var firstToken: Duration?
        let produced = try generator.generate(prompt: prompt, maxTokens: tokens) { _ in
            if firstToken == nil { firstToken = ContinuousClock.now - start }
            return true
        }
        let total = (ContinuousClock.now - start).milliseconds
        let prefill = firstToken?.milliseconds ?? total
        let decodeTokensPerS = Double(produced.count - 1) / ((total - prefill) / 1000)
        print(jsonObject([
            ("benchmark", .string("generate")), ("preset", .string(preset)), ("batch", .int(1)),
            ("prompt_tokens", .int(promptTokens)), ("generated_tokens", .int(produced.count)),
            ("prefill_ms", .number(prefill)), ("tokens_per_s", .number(decodeTokensPerS)),
            ("threads", .int(Parallel.threadCount)),
            ("openblas_coretype", .string(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "unset")),
        ]))
    }

    /// `batch` different prompts decoded together (``BatchGenerator``): generated tokens of the whole batch
    /// per second of decoding, prefill (one prompt after the other) timed apart.
    func runBatch(_ model: GemmaModel, config: GemmaConfig) throws {
        let prompts = (0..<batch).map { b in (0..<promptTokens).map { Int32(3 + ($0 * 7 + b * 13) % (config.vocabSize - 3)) } }
        let options = (0..<batch).map { SamplingOptions(temperature: 0, seed: UInt64($0)) }
        _ = try BatchGenerator.generate(model, prompts: prompts, options: options, stopTokens: [], maxTokens: 4)  // warm-up
        let prefillStart = ContinuousClock.now
        _ = try BatchGenerator.generate(model, prompts: prompts, options: options, stopTokens: [], maxTokens: 1)
        let prefill = (ContinuousClock.now - prefillStart).milliseconds
        let start = ContinuousClock.now
        let replies = try BatchGenerator.generate(model, prompts: prompts, options: options, stopTokens: [], maxTokens: tokens)
        let total = (ContinuousClock.now - start).milliseconds
        let generated = replies.reduce(0) { $0 + $1.count }
        print(jsonObject([
            ("benchmark", .string("generate")), ("preset", .string(preset)), ("batch", .int(batch)),
            ("prompt_tokens", .int(promptTokens)), ("generated_tokens", .int(generated)),
            ("prefill_ms", .number(prefill)), ("tokens_per_s", .number(Double(generated - batch) / ((total - prefill) / 1000))),
            ("threads", .int(Parallel.threadCount)),
            ("openblas_coretype", .string(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "unset")),
        ]))
    }
}
