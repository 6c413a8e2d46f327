import ArgumentParser
import Foundation
import Gemma
import NN

/// A seeded synthetic pretraining corpus for `bench data`: JSONL `{"text": ...}` documents of 30-400
/// words drawn (with a skew towards frequent ones) from the tokenizer's own word pieces, in sentences.
enum SyntheticCorpus {
    /// Writes about `bytes` bytes of documents to `path`.
    static func write(_ path: String, bytes: Int, tokenizer: SentencePieceTokenizer, seed: UInt64 = 7) throws {
        let words = wordList(tokenizer)
        guard !words.isEmpty else { throw ValidationError("the tokenizer has no word pieces to build a corpus from") }
        guard FileManager.default.createFile(atPath: path, contents: nil), let file = FileHandle(forWritingAtPath: path) else {
            throw ValidationError("cannot create \(path)")
        }
        defer { try? file.close() }
        var rng = RandomGenerator(seed: seed)
        var buffer: [UInt8] = []
        buffer.reserveCapacity(9 << 20)
        var written = 0
        while written < bytes {
            buffer.removeAll(keepingCapacity: true)
            while buffer.count < 8 << 20 && written + buffer.count < bytes {
                buffer += Array(#"{"text": ""#.utf8)
                let count = 30 + Int(rng.next() % 371)
                for i in 0..<count {
                    let u = Double(rng.next() >> 11) / Double(1 << 53)  // u² skews towards the front of the list
                    let word = words[min(Int(u * u * Double(words.count)), words.count - 1)]
                    if i > 0 { buffer.append(UInt8(ascii: " ")) }
                    if i == 0 || rng.next() % 12 == 0 { buffer += word.prefix(1).uppercased().utf8; buffer += word.dropFirst().utf8 } else { buffer += word.utf8 }
                    if rng.next() % 12 == 0 { buffer.append(UInt8(ascii: ".")) }
                }
                buffer += Array(".\"}\n".utf8)
            }
            try file.write(contentsOf: buffer)
            written += buffer.count
        }
    }

    /// Lower-case alphabetic word pieces (those starting with U+2581), without the marker.
    static func wordList(_ tokenizer: SentencePieceTokenizer) -> [String] {
        (0..<Int32(tokenizer.vocabularySize)).compactMap { id -> String? in
            guard tokenizer.pieceType(of: id) == .normal, let piece = tokenizer.piece(of: id), piece.hasPrefix("\u{2581}") else { return nil }
            let word = String(piece.dropFirst())
            return !word.isEmpty && word.allSatisfy({ $0.isLetter && $0.isASCII }) ? word.lowercased() : nil
        }
    }
}
