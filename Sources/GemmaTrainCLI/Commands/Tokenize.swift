import ArgumentParser
import Checkpoint
import Foundation
import Gemma

/// `gemma-train tokenize`: token ids of text lines, or of chat dialogues with their SFT loss mask.
///
/// ```
/// gemma-train tokenize --tokenizer tokenizer.model "Hello world"           # [...]
/// gemma-train tokenize --tokenizer tokenizer.model --file lines.txt --bos   # one array per line
/// gemma-train tokenize --tokenizer tokenizer.model --chat --file sft.jsonl  # {"ids":[...],"mask":[...]} per row
/// ```
struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print token ids: one JSON array per input line (or {\"ids\", \"mask\"} per chat dialogue).",
        discussion: """
            Text: each line of --file (split at "\\n"; the text itself if given as TEXT) is encoded as \
            SentencePiece does, without <bos>/<eos> unless --bos/--eos.
            --chat: each non-blank line is a JSON object {"messages": [{"role": "user"|"model"|"assistant", \
            "content": ...}, ...]}, rendered in Gemma's turn format; "mask" is 1 on the tokens the SFT loss is \
            taken on (model replies and their <end_of_turn>\\n).
            """)

    @Option(help: ArgumentHelp("The SentencePiece model (e.g. a Gemma tokenizer.model).", valueName: "file"))
    var tokenizer: String

    @Option(help: ArgumentHelp("Read the input from this file ('-' for standard input).", valueName: "file"))
    var file: String?

    @Argument(help: "The text to encode (instead of --file); encoded as one input, newlines included.")
    var text: String?

    @Flag(help: "Input lines are JSONL dialogues; print {\"ids\": [...], \"mask\": [...]} per dialogue.")
    var chat = false

    @Flag(help: "Prepend the <bos> id (text input; chat rows always start with <bos>).")
    var bos = false

    @Flag(help: "Append the <eos> id (text input).")
    var eos = false

    @Flag(help: "With --chat: end each dialogue with the generation prompt <start_of_turn>model\\n.")
    var generationPrompt = false

    @Flag(help: "With --chat: fold a leading system message into the first user turn instead of rejecting it.")
    var foldSystem = false

    func validate() throws {
        if (file == nil) == (text == nil) {
            throw ValidationError("Give the input either as --file FILE or as TEXT (exactly one of them).")
        }
        if chat && (bos || eos) {
            throw ValidationError("--bos and --eos apply to text input: a --chat row always starts with <bos>.")
        }
        if !chat && (generationPrompt || foldSystem) {
            throw ValidationError("--generation-prompt and --fold-system apply to --chat input only.")
        }
    }

    func run() throws {
        let tok = try SentencePieceTokenizer(contentsOf: URL(fileURLWithPath: tokenizer))
        let inputName = file.map { $0 == "-" ? "<stdin>" : $0 } ?? "TEXT"
        let lines: [ArraySlice<UInt8>]
        if let file {
            lines = try Self.lines(of: Self.read(file))
        } else {
            lines = [ArraySlice(text!.utf8)]
        }
        var output = OutputBuffer()
        defer { output.flush() }

        if chat {
            let template = try ChatTemplate(
                tokenizer: tok, systemMessages: foldSystem ? .foldIntoFirstUserTurn : .reject)
            let decoder = JSONDecoder()
            for (index, line) in lines.enumerated() {
                let lineNumber = index + 1
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }  // blank JSONL line
                let dialogue: ChatDialogue
                do {
                    dialogue = try decoder.decode(ChatDialogue.self, from: Data(line))
                } catch {
                    throw TokenizeError("\(inputName): line \(lineNumber): \(Self.describe(error))")
                }
                let encoded: EncodedDialogue
                do {
                    encoded = try template.encode(
                        dialogue.messages, addGenerationPrompt: generationPrompt, line: lineNumber)
                } catch {
                    throw TokenizeError("\(inputName): \(error)")
                }
                output.append("{\"ids\":")
                output.appendJSON(encoded.ids)
                output.append(",\"mask\":")
                output.appendJSON(encoded.mask.map { $0 ? Int32(1) : 0 })
                output.append("}\n")
            }
        } else {
            let bosId = try bos ? Self.special(tok.bosId, "<bos>", tok) : nil
            let eosId = try eos ? Self.special(tok.eosId, "<eos>", tok) : nil
            for (index, line) in lines.enumerated() {
                guard let string = String(validating: line, as: UTF8.self) else {
                    throw TokenizeError("\(inputName): line \(index + 1) is not valid UTF-8")
                }
                var ids = tok.encode(string)
                if let bosId { ids.insert(bosId, at: 0) }
                if let eosId { ids.append(eosId) }
                output.appendJSON(ids)
                output.append("\n")
            }
        }
    }

    private static func special(_ id: Int32?, _ name: String, _ tok: SentencePieceTokenizer) throws -> Int32 {
        guard let id else { throw TokenizeError("\(tok.source) has no \(name) control piece") }
        return id
    }

    private static func read(_ path: String) throws -> [UInt8] {
        if path == "-" { return [UInt8](FileHandle.standardInput.readDataToEndOfFile()) }
        do {
            return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw TokenizeError("cannot read \(path): \(FileSystemError.reason(of: error))")
        }
    }

    /// Lines split at "\n" (kept exactly, "\r" included); a final "\n" does not start another line.
    static func lines(of bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
        if bytes.last == 0x0A || bytes.isEmpty { lines.removeLast() }
        return lines
    }

    /// A row that does not decode as a dialogue, in one line (with the expected shape when a key is missing).
    static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        guard case .keyNotFound = error else { return error.summary }
        return error.summary + "; expected {\"messages\": [{\"role\": ..., \"content\": ...}, ...]}"
    }
}

struct TokenizeError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Standard output written in large chunks.
private struct OutputBuffer {
    private var bytes: [UInt8] = []

    mutating func append(_ s: String) {
        bytes.append(contentsOf: s.utf8)
        if bytes.count >= 1 << 20 { flush() }
    }

    mutating func appendJSON(_ values: [Int32]) {
        bytes.append(UInt8(ascii: "["))
        for (k, v) in values.enumerated() {
            if k > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(contentsOf: String(v).utf8)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    mutating func flush() {
        if bytes.isEmpty { return }
        FileHandle.standardOutput.write(Data(bytes))
        bytes.removeAll(keepingCapacity: true)
    }
}
