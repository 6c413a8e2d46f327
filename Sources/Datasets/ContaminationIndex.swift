import Foundation

/// The word n-grams of evaluation files, to find training rows that share one with them: the overlap
/// test of GPT-3 (Brown et al. 2020, appendix C) and the Gemma reports, on words normalised by
/// ``TextNormalization/wordHashes(_:into:)`` (lower case, punctuation stripped). N-grams are taken
/// within each text field; a field of fewer than ``n`` words has none.
public struct ContaminationIndex: Sendable {
    /// Words per n-gram.
    public let n: Int
    /// The evaluation files, in the order given.
    public let files: [String]
    /// An n-gram's hash to the first file that holds it.
    var ngrams: [UInt64: Int32] = [:]

    /// Reads every row of each file (any of the three formats, told from its first row, every text field).
    /// - Throws: ``DataError`` naming the file and line of a row that is not JSON or fits no format, or a
    ///   file without rows.
    public init(files: [String], n: Int) throws {
        precondition(n >= 1, "ContaminationIndex: n must be >= 1")
        self.n = n
        self.files = files
        for (index, file) in files.enumerated() {
            var format: RowFormat?
            var words: [UInt64] = []
            let lines = try JSONLines.lines(of: file)
            guard !lines.isEmpty else { throw DataError(file: file, line: nil, message: "no rows (every line is blank)") }
            for line in lines {
                do {
                    let row = try line.bytes.withUnsafeBytes { try JSONSpans.parse($0) }
                    guard let rowFormat = format ?? RowFormat.detect(row) else { throw RowFormat.undetectable(row) }
                    format = rowFormat
                    for field in try rowFormat.fields(of: row) {
                        words.removeAll(keepingCapacity: true)
                        TextNormalization.wordHashes(field.text, into: &words)
                        forEachNGram(words) { hash in if ngrams[hash] == nil { ngrams[hash] = Int32(index) } }
                    }
                } catch {
                    throw DataError(file: file, line: line.number, message: "\(error)")
                }
            }
        }
    }

    /// Distinct n-grams held.
    public var count: Int { ngrams.count }

    /// The index into ``files`` of the first file sharing an n-gram with one of `fields` (word hashes per
    /// text field), or nil.
    public func match(_ fields: [[UInt64]]) -> Int? {
        var found: Int?
        for words in fields where found == nil {
            forEachNGram(words) { hash in
                if found == nil, let file = ngrams[hash] { found = Int(file) }
            }
        }
        return found
    }

    /// Calls `body` with a hash of each run of ``n`` consecutive word hashes (a polynomial rolling hash).
    func forEachNGram(_ words: [UInt64], _ body: (UInt64) -> Void) {
        guard words.count >= n else { return }
        let base: UInt64 = 0x100_0000_01b3
        var top: UInt64 = 1  // base^(n-1)
        for _ in 1..<n { top = top &* base }
        var h: UInt64 = 0
        for (i, w) in words.enumerated() {
            if i >= n { h = h &- words[i - n] &* top }
            h = h &* base &+ w
            if i >= n - 1 { body(h) }
        }
    }
}
