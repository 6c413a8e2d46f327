import Foundation

/// A reason `data filter` drops a row; each dropped row counts under the first rule that drops it, in
/// this order.
public enum FilterRule: String, CaseIterable, Sendable {
    /// Not JSON, not UTF-8, or not of the format (with `--skip-bad-rows`).
    case badRow = "bad_row"
    /// Holds personal data or a secret (`--pii drop`).
    case pii
    /// Shares an n-gram with an evaluation file.
    case contaminated
    /// Its normalised text equals an earlier row's.
    case duplicateExact = "duplicate_exact"
    /// Its estimated Jaccard similarity to an earlier row reaches the threshold.
    case duplicateNear = "duplicate_near"
}

/// What `data filter` did: rows in and out, rows dropped per rule, matches per PII type, drops per
/// evaluation file, and up to ``examplesPerKind`` examples of each rule and PII type (scrubbed text).
public struct FilterReport: Sendable {
    public var input: String, output: String
    public var format: RowFormat
    public var rowsIn = 0, rowsOut = 0
    public var dropped: [FilterRule: Int] = [:]
    /// Rows in which at least one match was replaced.
    public var scrubbedRows = 0
    /// Matches per type (in rows kept or dropped).
    public var pii: [PIIKind: Int] = [:]
    /// Rows dropped as contaminated, per evaluation file.
    public var contaminatedBy: [String: Int] = [:]
    /// Examples per rule (`FilterRule.rawValue`) and per PII type (`PIIKind.rawValue`).
    public var examples: [String: [Example]] = [:]
    /// The LSH banding of near deduplication, when it ran.
    public var nearBands: (bands: Int, rows: Int)?

    public static let examplesPerKind = 5
    /// Characters of an example's text.
    public static let exampleLength = 200

    /// One example: the row's input line, its text fields (scrubbed) joined by newlines and cut to about
    /// ``exampleLength`` characters around what it shows, and for a dropped row what it was dropped for.
    public struct Example: Sendable {
        public let line: Int, text: String, detail: String?
    }

    public init(input: String, output: String, format: RowFormat) {
        self.input = input
        self.output = output
        self.format = format
    }

    /// Keeps `text` as an example of `kind` if it has fewer than ``examplesPerKind``; the excerpt is
    /// centred on the first occurrence of `focus` when given.
    mutating func addExample(_ kind: String, line: Int, text: @autoclosure () -> String, focus: String? = nil, detail: String? = nil) {
        guard examples[kind, default: []].count < Self.examplesPerKind else { return }
        examples[kind, default: []].append(Example(line: line, text: Self.excerpt(text(), focus: focus), detail: detail))
    }

    /// About ``exampleLength`` characters of `text`, starting up to 60 before `focus`; `…` marks a cut.
    static func excerpt(_ text: String, focus: String?) -> String {
        guard text.count > exampleLength else { return text }
        var start = text.startIndex
        if let focus, let found = text.range(of: focus) {
            start = text.index(found.lowerBound, offsetBy: -60, limitedBy: text.startIndex) ?? text.startIndex
        }
        let end = text.index(start, offsetBy: exampleLength, limitedBy: text.endIndex) ?? text.endIndex
        return (start > text.startIndex ? "…" : "") + text[start..<end] + (end < text.endIndex ? "…" : "")
    }

    /// The one-line summary: rows in and out, drops per rule, matches per PII type.
    public var summary: String {
        var parts = ["\(input): \(rowsIn) rows in, \(rowsOut) out (\(format.rawValue))"]
        let drops = FilterRule.allCases.compactMap { rule in dropped[rule].map { "\(rule.rawValue) \($0)" } }
        if !drops.isEmpty { parts.append("dropped: " + drops.joined(separator: ", ")) }
        if !contaminatedBy.isEmpty {
            parts.append("contaminated by: " + contaminatedBy.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        let matches = pii.sorted { $0.key < $1.key }.map { "\($0.key.rawValue) \($0.value)" }
        if !matches.isEmpty { parts.append("PII matches: " + matches.joined(separator: ", ") + " (\(scrubbedRows) rows scrubbed)") }
        return parts.joined(separator: "; ")
    }

    /// The report as a JSON object (keys sorted).
    public func json() throws -> Data {
        var object: [String: Any] = [
            "input": input, "output": output, "format": format.rawValue, "rows_in": rowsIn, "rows_out": rowsOut,
            "dropped": Dictionary(uniqueKeysWithValues: FilterRule.allCases.map { ($0.rawValue, dropped[$0] ?? 0) }),
            "scrubbed_rows": scrubbedRows,
            "pii": Dictionary(uniqueKeysWithValues: PIIKind.allCases.map { ($0.rawValue, pii[$0] ?? 0) }),
            "contaminated_by": contaminatedBy,
            "examples": examples.mapValues { list in
                list.map { example -> [String: Any] in
                    var entry: [String: Any] = ["line": example.line, "text": example.text]
                    if let detail = example.detail { entry["detail"] = detail }
                    return entry
                }
            },
        ]
        if let nearBands { object["near_lsh"] = ["bands": nearBands.bands, "rows": nearBands.rows] }
        return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }
}
