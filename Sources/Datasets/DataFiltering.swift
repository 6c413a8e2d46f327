import Checkpoint
import Foundation

/// `gemma-train data filter`: streams a JSONL file of one of the ``RowFormat``s through PII scrubbing
/// (or dropping), decontamination against evaluation files and exact or near deduplication, and writes
/// the rows kept, in input order, to a file published atomically.
///
/// The input is mapped and cut at line ends into pieces of about ``chunkBytes``; pieces are parsed,
/// scrubbed and hashed in parallel, in waves of `2 x threads`, then decided on and written one after the
/// other, so the output depends on the input only. Only the text fields of a row are looked at and
/// changed: a row without matches is written byte for byte, a scrubbed row with only its text strings
/// replaced. Memory holds one wave of pieces, the exact hashes and the kept MinHash signatures.
public struct DataFiltering {
    /// What to do with personal data and secrets (``PIIScanner``).
    public enum PIIMode: String, CaseIterable, Sendable { case scrub, drop, off }
    /// Which duplicates to drop (the first occurrence is kept).
    public enum DedupMode: String, CaseIterable, Sendable { case exact, near, off }

    public var input: String, output: String
    /// Nil: told from the first row's keys (``RowFormat/detect(_:)``).
    public var format: RowFormat?
    public var pii = PIIMode.scrub
    /// `near` also drops exact duplicates (under ``FilterRule/duplicateExact``).
    public var dedup = DedupMode.exact
    /// The estimated Jaccard similarity of word 5-grams from which `near` drops a row.
    public var nearThreshold = 0.8
    /// Drops rows sharing an n-gram with these evaluation files.
    public var contamination: ContaminationIndex?
    /// Leave out rows that are not JSON or do not fit the format (counted) instead of stopping.
    public var skipBadRows = false
    /// Write an empty line for each blank or dropped line, so that every kept row stays on its input line
    /// number (a reader of the output then names the input's lines).
    public var keepLineNumbers = false
    public var threads: Int
    /// Input bytes per piece of parallel work (cut at the next line end).
    public var chunkBytes = 1 << 20

    public init(input: String, output: String, threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.input = input
        self.output = output
        self.threads = threads
    }

    /// Filters the file and returns the report; nothing is written at ``output`` unless it succeeds.
    /// - Throws: ``DataError`` as `file:line: message` for a bad row (unless ``skipBadRows``), naming
    ///   the input when it cannot be read or its format cannot be told, the output when it cannot be written.
    public func run() throws -> FilterReport {
        precondition(threads >= 1 && chunkBytes >= 1, "DataFiltering: threads and chunkBytes must be >= 1")
        let mapped: MappedFile
        do { mapped = try MappedFile(path: input) } catch let error as SafeTensorsError {
            throw DataError(file: input, line: nil, message: "cannot read: \(error.reason)")
        }
        let format = try self.format ?? detectFormat(mapped.bytes)
        let job = FilterJob(bytes: mapped.bytes, format: format, pii: pii, dedup: dedup, contamination: contamination)
        var decider = Decider(filtering: self, report: FilterReport(input: input, output: output, format: format))
        let file = try writing { try AtomicFileOutput(path: output) }
        // Cut as we go, a wave at a time: finding a line end touches the page, and the kernel may map a
        // whole large folio of the file around it, so cutting the whole file first would map all of it.
        var nextLine = 1, start = 0, linesWritten = 0
        var buffer: [UInt8] = []
        while start < mapped.bytes.count {
            var pieces: [Range<Int>] = []
            while pieces.count < 2 * threads, start < mapped.bytes.count {
                let end = start + chunkBytes < mapped.bytes.count ? ByteLines.lineEnd(mapped.bytes, from: start + chunkBytes) : mapped.bytes.count
                pieces.append(start..<end)
                start = end
            }
            defer { releasePages(mapped.bytes, pieces[0].lowerBound..<pieces.last!.upperBound) }
            for chunk in orderedParallelMap(pieces.indices, threads: threads, { [pieces] in job.filter(pieces[$0]) }) {
                buffer.removeAll(keepingCapacity: true)
                for row in chunk.rows {
                    let line = nextLine + row.line - 1
                    guard try decider.keep(row, line: line) else { continue }
                    if keepLineNumbers {
                        buffer += repeatElement(UInt8(ascii: "\n"), count: line - 1 - linesWritten)
                        linesWritten = line
                    }
                    if let replaced = row.replaced {
                        buffer += replaced
                    } else {
                        buffer += UnsafeRawBufferPointer(rebasing: mapped.bytes[row.bytes])
                    }
                    buffer.append(UInt8(ascii: "\n"))
                }
                nextLine += chunk.lines
                try writing { try buffer.withUnsafeBytes { try file.write($0) } }
            }
        }
        try writing { try file.commit() }
        var report = decider.report
        report.nearBands = decider.near.map { ($0.bands, $0.rows) }
        return report
    }

    /// `body`, a write to ``output``, its failure (a full disk, a missing directory) as a ``DataError``.
    func writing<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as SafeTensorsError {
            throw DataError(file: output, line: nil, message: "cannot write: \(error.reason)")
        }
    }

    /// The format of the first row that parses (bad rows before it are errors unless skipped).
    func detectFormat(_ bytes: UnsafeRawBufferPointer) throws -> RowFormat {
        struct Found: Error { let format: RowFormat }
        do {
            try ByteLines.forEach(in: bytes, skipByteOrderMark: true) { line, text in
                guard !ByteLines.isBlank(text) else { return }
                do {
                    let row = try JSONSpans.parse(text)
                    guard case .object = row else { throw RowFormatError("a row must be a JSON object") }
                    guard let format = RowFormat.detect(row) else {
                        throw DataError(file: input, line: line, message: "\(RowFormat.undetectable(row)); pass --format")
                    }
                    throw Found(format: format)
                } catch where error is JSONSpans.SyntaxError || error is RowFormatError {
                    guard skipBadRows else { throw DataError(file: input, line: line, message: "\(error)") }
                }
            }
        } catch let found as Found {
            return found.format
        }
        throw DataError(file: input, line: nil, message: "no rows (every line is blank or bad)")
    }
}

/// One row of a piece after the parallel pass: what the sequential pass decides on.
struct FilteredRow {
    /// Line within the piece (1-based).
    var line: Int
    /// The line's bytes in the input.
    var bytes: Range<Int>
    /// Why the row is bad (not JSON, not UTF-8, not of the format).
    var failure: String?
    /// The line with the scrubbed text fields, when something was replaced.
    var replaced: [UInt8]?
    /// The text fields (scrubbed unless PII is off), for examples.
    var fields: [[UInt8]] = []
    /// The kinds of the matches found, one entry per match.
    var matches: [PIIKind] = []
    var exactKey: ExactKey?
    var signature: [UInt32]?
    /// Index of the evaluation file it shares an n-gram with.
    var contaminatedBy: Int?
}

/// What one piece became.
struct FilteredChunk {
    var rows: [FilteredRow] = []
    /// Lines in the piece (terminators), to number the next piece's lines.
    var lines = 0
}

/// The parallel pass over the pieces of a mapped input (shared read-only by the worker threads).
struct FilterJob: @unchecked Sendable {  // the mapped bytes are read-only; the rest is immutable
    let bytes: UnsafeRawBufferPointer
    let format: RowFormat
    let pii: DataFiltering.PIIMode, dedup: DataFiltering.DedupMode
    let contamination: ContaminationIndex?
    let scanner = PIIScanner(), minHash = MinHash()

    /// The piece `bytes[piece]` (whole lines): every non-blank line parsed, scrubbed and hashed.
    func filter(_ piece: Range<Int>) -> FilteredChunk {
        var chunk = FilteredChunk()
        chunk.lines = ByteLines.forEach(in: UnsafeRawBufferPointer(rebasing: bytes[piece]), skipByteOrderMark: piece.lowerBound == 0) { line, text in
            guard !ByteLines.isBlank(text) else { return }
            let start = text.baseAddress! - bytes.baseAddress!
            var row = FilteredRow(line: line, bytes: start..<start + text.count)
            do {
                try fill(&row, text)
            } catch {
                row.failure = "\(error)"
            }
            chunk.rows.append(row)
        }
        return chunk
    }

    func fill(_ row: inout FilteredRow, _ text: UnsafeRawBufferPointer) throws {
        let fields = try format.fields(of: try JSONSpans.parse(text))
        row.fields = fields.map(\.text)
        if pii != .off {
            var replacements: [(range: Range<Int>, literal: [UInt8])] = []
            for (index, field) in fields.enumerated() {
                let (scrubbed, found) = scanner.scrub(field.text)
                guard !found.isEmpty else { continue }
                row.matches += found.map(\.kind)
                row.fields[index] = scrubbed
                replacements.append((field.range, JSONSpans.literal(scrubbed)))
            }
            if !replacements.isEmpty {
                var out: [UInt8] = []
                out.reserveCapacity(text.count)
                var last = 0
                for r in replacements.sorted(by: { $0.range.lowerBound < $1.range.lowerBound }) {
                    out += UnsafeRawBufferPointer(rebasing: text[last..<r.range.lowerBound])
                    out += r.literal
                    last = r.range.upperBound
                }
                out += UnsafeRawBufferPointer(rebasing: text[last...])
                row.replaced = out
            }
        }
        if dedup != .off { row.exactKey = TextNormalization.exactKey(row.fields) }
        if dedup == .near || contamination != nil {
            let words = row.fields.map { TextNormalization.wordHashes($0) }
            if dedup == .near { row.signature = minHash.signature(words: words.flatMap { $0 }) }
            row.contaminatedBy = contamination?.match(words)
        }
    }
}

/// The sequential pass: applies the rules to each row in input order and counts.
struct Decider {
    let filtering: DataFiltering
    var report: FilterReport
    var exact: [ExactKey: Int] = [:]
    var near: NearDuplicateIndex?

    init(filtering: DataFiltering, report: FilterReport) {
        self.filtering = filtering
        self.report = report
        if filtering.dedup == .near { near = NearDuplicateIndex(threshold: filtering.nearThreshold) }
    }

    /// Whether to write the row at input line `line`; counts it.
    mutating func keep(_ row: FilteredRow, line: Int) throws -> Bool {
        report.rowsIn += 1
        if let failure = row.failure {
            guard filtering.skipBadRows else { throw DataError(file: filtering.input, line: line, message: failure) }
            drop(.badRow, line: line, text: "", detail: failure)
            return false
        }
        func text() -> String { row.fields.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "\n") }
        if !row.matches.isEmpty {
            report.scrubbedRows += 1
            for kind in row.matches {
                report.pii[kind, default: 0] += 1
            }
            for kind in Set(row.matches) {
                report.addExample(kind.rawValue, line: line, text: text(), focus: kind.placeholder)
            }
            if filtering.pii == .drop {
                drop(.pii, line: line, text: text(), detail: Set(row.matches).sorted().map(\.rawValue).joined(separator: ", "))
                return false
            }
        }
        if let index = row.contaminatedBy, let contamination = filtering.contamination {
            let file = contamination.files[index]
            report.contaminatedBy[file, default: 0] += 1
            drop(.contaminated, line: line, text: text(), detail: "shares a \(contamination.n)-gram with \(file)")
            return false
        }
        if let key = row.exactKey {
            if let first = exact[key] {
                drop(.duplicateExact, line: line, text: text(), detail: "duplicate of line \(first)")
                return false
            }
            exact[key] = line
        }
        if let signature = row.signature, let first = near?.duplicate(of: signature, id: line) {
            drop(.duplicateNear, line: line, text: text(), detail: "near duplicate of line \(first)")
            return false
        }
        report.rowsOut += 1
        return true
    }

    mutating func drop(_ rule: FilterRule, line: Int, text: @autoclosure () -> String, detail: String) {
        report.dropped[rule, default: 0] += 1
        report.addExample(rule.rawValue, line: line, text: text(), detail: detail)
    }
}
