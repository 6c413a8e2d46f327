import ArgumentParser
import Foundation
import Gemma

/// `--checkpoint` and `--tokenizer`, shared by the commands that run a model.
struct CheckpointOptions: ParsableArguments {
    @Option(help: "A GemmaTrain .h5 checkpoint or a Hugging Face model directory.")
    var checkpoint: String

    @Option(help: "A SentencePiece tokenizer.model (default: the one stored with the checkpoint).")
    var tokenizer: String?

    /// The model and its tokenizer; errors name the file. A model with another head than `head` is
    /// refused: a reward model does not generate text, a language model scores no preference pairs.
    func load(expecting head: GemmaModel.Head) throws -> (model: GemmaModel, tokenizer: SentencePieceTokenizer) {
        try Self.load(checkpoint, tokenizer: tokenizer, expecting: head)
    }

    /// The model at `checkpoint` and its tokenizer (`tokenizer`, else the one stored with it), refusing
    /// another head than `head`; errors name the file.
    /// `split` chooses this rank's shard of the model on a `model` axis (nil: the whole model).
    static func load(_ checkpoint: String, tokenizer: String? = nil, expecting head: GemmaModel.Head,
                     split: TensorParallel.Choice = { _ in nil }) throws -> (model: GemmaModel, tokenizer: SentencePieceTokenizer) {
        let contents = try ModelFile.loadAny(checkpoint, tensorParallel: split)
        guard contents.model.head == head else {
            throw ValidationError(head == .reward
                ? "\(checkpoint) is a causal language model, not a reward model"
                : "\(checkpoint) is a reward model (it scores sequences, it does not predict tokens); give a causal language model")
        }
        let tok: SentencePieceTokenizer
        if let tokenizer {
            tok = try SentencePieceTokenizer(contentsOf: URL(fileURLWithPath: tokenizer))
        } else if let bytes = contents.tokenizer {
            tok = try SentencePieceTokenizer(data: Data(bytes), source: "\(checkpoint) (stored tokenizer)")
        } else {
            throw ValidationError("\(checkpoint) holds no tokenizer; pass --tokenizer FILE")
        }
        guard tok.vocabularySize <= contents.model.config.vocabSize else {
            throw ValidationError("the tokenizer has \(tok.vocabularySize) pieces but the model's vocab_size is \(contents.model.config.vocabSize)")
        }
        return (contents.model, tok)
    }
}

/// `--max-tokens`, `--temperature`, `--top-k`, `--top-p`, `--seed`.
struct SamplingArguments: ParsableArguments {
    // Numeric options parse their value unconditionally, so `--max-tokens -5` reaches validate() and
    // is reported as out of range rather than as a missing value.
    @Option(parsing: .unconditional, help: "Most tokens to generate per reply.")
    var maxTokens = 256

    @Option(parsing: .unconditional, help: "Sampling temperature; 0 is greedy.")
    var temperature: Float = 0.7

    @Option(parsing: .unconditional, help: "Sample among the K most likely tokens only.")
    var topK: Int?

    @Option(parsing: .unconditional, help: "Sample among the most likely tokens holding this much probability (nucleus).")
    var topP: Float?

    @Option(parsing: .unconditional, help: "Random seed (the same seed gives the same text).")
    var seed: UInt64 = 0

    func validate() throws {
        guard maxTokens > 0 else { throw ValidationError("--max-tokens must be at least 1, got \(maxTokens)") }
        guard temperature.isFinite && temperature >= 0 else {
            throw ValidationError("--temperature must be a finite number >= 0 (0 is greedy), got \(temperature)")
        }
        if let topK, topK <= 0 { throw ValidationError("--top-k must be at least 1, got \(topK)") }
        if let topP, !(topP > 0 && topP <= 1) { throw ValidationError("--top-p must be in (0, 1], got \(topP)") }
    }

    /// The options, picking only ids the tokenizer can decode.
    func options(vocabularyLimit: Int) -> SamplingOptions {
        SamplingOptions(temperature: temperature, topK: topK, topP: topP, seed: seed, vocabularyLimit: vocabularyLimit)
    }
}

/// Turns generated ids into text as they arrive: decodes everything so far and prints what is new
/// (a piece may complete a multi-byte character only with the next one).
struct TextStream {
    let tokenizer: SentencePieceTokenizer
    private var ids: [Int32] = []
    private var printed = ""

    init(tokenizer: SentencePieceTokenizer) { self.tokenizer = tokenizer }

    mutating func append(_ id: Int32) {
        ids.append(id)
        let text = tokenizer.decode(ids)
        guard text.hasPrefix(printed), !text.hasSuffix("\u{FFFD}") else { return }
        FileHandle.standardOutput.write(Data(text.dropFirst(printed.count).utf8))
        printed = text
    }
}
