import ArgumentParser
import Foundation
import Gemma
import NN

/// A seeded synthetic pretraining corpus for `bench data` and `bench filter`: JSONL `{"text": ...}`
/// documents of 30-400 words drawn (with a skew towards frequent ones) from the tokenizer's own word
/// pieces, in sentences. With `sensitive`, about one document in 20 also holds a sentence of personal
/// data (``sensitiveSentences``), and about one in 25 repeats one of the last 64 documents, half of them
/// exactly and half with one word changed (near duplicates).
enum SyntheticCorpus {
    /// Writes about `bytes` bytes of documents to `path`.
    static func write(_ path: String, bytes: Int, tokenizer: SentencePieceTokenizer, seed: UInt64 = 7,
                      sensitive: Bool = false) throws {
        let words = wordList(tokenizer)
        guard !words.isEmpty else { throw ValidationError("the tokenizer has no word pieces to build a corpus from") }
        guard FileManager.default.createFile(atPath: path, contents: nil), let file = FileHandle(forWritingAtPath: path) else {
            throw ValidationError("cannot create \(path)")
        }
        defer { try? file.close() }
        var rng = RandomGenerator(seed: seed)
        var buffer: [UInt8] = [], document: [UInt8] = []
        var recent: [[UInt8]] = []
        buffer.reserveCapacity(9 << 20)
        var written = 0
        while written < bytes {
            buffer.removeAll(keepingCapacity: true)
            while buffer.count < 8 << 20 && written + buffer.count < bytes {
                document.removeAll(keepingCapacity: true)
                if sensitive, !recent.isEmpty, rng.next() % 25 == 0 {
                    document = recent[Int(rng.next() % UInt64(recent.count))]
                    if rng.next() % 2 == 0, let space = document.firstIndex(of: UInt8(ascii: " ")) {
                        document.insert(contentsOf: Array("changed ".utf8), at: space + 1)
                    }
                } else {
                    let count = 30 + Int(rng.next() % 371)
                    for i in 0..<count {
                        let u = Double(rng.next() >> 11) / Double(1 << 53)  // u² skews towards the front of the list
                        let word = words[min(Int(u * u * Double(words.count)), words.count - 1)]
                        if i > 0 { document.append(UInt8(ascii: " ")) }
                        if i == 0 || rng.next() % 12 == 0 { document += word.prefix(1).uppercased().utf8; document += word.dropFirst().utf8 } else { document += word.utf8 }
                        if rng.next() % 12 == 0 { document.append(UInt8(ascii: ".")) }
                    }
                    document.append(UInt8(ascii: "."))
                    if sensitive, rng.next() % 20 == 0 {
                        document += " ".utf8
                        document += Self.sensitiveSentences[Int(rng.next() % UInt64(Self.sensitiveSentences.count))].utf8
                    }
                    if sensitive {
                        if recent.count == 64 { recent.removeFirst() }
                        recent.append(document)
                    }
                }
                buffer += Array(#"{"text": ""#.utf8) + document + Array("\"}\n".utf8)
            }
            try file.write(contentsOf: buffer)
            written += buffer.count
        }
    }

    /// Sentences of personal data and secrets, one of each kind ``PIIScanner`` finds.
    static let sensitiveSentences = [
        "Write to jane.doe@example.com or call (555) 123-4567.", "The server is at 192.168.10.24 and 2001:db8::8a2e:370:7334.",
        "Pay with 4111 1111 1111 1111 or to IBAN DE89 3704 0044 0532 0130 00.", "My SSN is 123-45-6789.",
        "Use api_key=a8F3kLq9ZxP2mN7vR4tY and AKIAIOSFODNN7EXAMPLE.", "Ring +44 20 7946 0958 after six.",
    ]

    /// Lower-case alphabetic word pieces (those starting with U+2581), without the marker.
    static func wordList(_ tokenizer: SentencePieceTokenizer) -> [String] {
        (0..<Int32(tokenizer.vocabularySize)).compactMap { id -> String? in
            guard tokenizer.pieceType(of: id) == .normal, let piece = tokenizer.piece(of: id), piece.hasPrefix("\u{2581}") else { return nil }
            let word = String(piece.dropFirst())
            return !word.isEmpty && word.allSatisfy({ $0.isLetter && $0.isASCII }) ? word.lowercased() : nil
        }
    }
}
