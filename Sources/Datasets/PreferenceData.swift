import Foundation
import Gemma

/// A preference pair, each side the whole dialogue (prompt turns then the reply as a model turn), encoded.
public struct PreferencePair: Sendable {
    public var chosen: [Int32]
    public var rejected: [Int32]
}

/// A batch of preference pairs for the reward model: `2B` sequences (the chosen ones, then the rejected
/// ones), right-padded to the longest; the reward is read at each sequence's last real token.
public struct PreferenceBatch: Sendable {
    public var pairs: Int, time: Int
    /// `[2B * time]`
    public var ids: [Int32]
    /// `[2B]` index into the flattened `[2B * time]` positions of each sequence's last real token.
    public var lastTokens: [Int32]

    public init(_ pairs: [PreferencePair], padId: Int32) {
        let sequences = pairs.map(\.chosen) + pairs.map(\.rejected)
        self.pairs = pairs.count
        time = sequences.map(\.count).max() ?? 1
        ids = []
        lastTokens = []
        for (i, s) in sequences.enumerated() {
            ids += s + [Int32](repeating: padId, count: time - s.count)
            lastTokens.append(Int32(i * time + s.count - 1))
        }
    }
}

extension TrainingData {
    /// Preference rows `{"prompt": str | messages, "chosen": str | messages, "rejected": str | messages}`.
    /// A string prompt is one user turn; a string reply is one model turn. Sequences longer than
    /// `seqLen` are truncated (keeping the start) or the pair dropped, and counted.
    public static func preferences(_ path: String, template: ChatTemplate, seqLen: Int, overlong: Packer.Overlong,
                                   skipBadRows: Bool) throws -> (pairs: [PreferencePair], report: DataReport) {
        try preferenceRows(path, skipBadRows: skipBadRows) { line, row, truncated, dropped -> PreferencePair? in
            func encode(_ reply: TextOrMessages) throws -> [Int32] {
                let prompt = row.prompt.messages(role: .user), answer = reply.messages(role: .model)
                do { return try template.encode(prompt + answer).ids } catch {
                    throw DataError(file: path, line: line, message: "\(error)")
                }
            }
            var pair = PreferencePair(chosen: try encode(row.chosen), rejected: try encode(row.rejected))
            if max(pair.chosen.count, pair.rejected.count) > seqLen {
                if overlong == .drop { dropped += 1; return nil }
                pair.chosen = Array(pair.chosen.prefix(seqLen))
                pair.rejected = Array(pair.rejected.prefix(seqLen))
                truncated += 1
            }
            return pair
        }
    }

    /// Reads the preference rows of `path` with `make`, which returns nil for a pair it drops and counts
    /// what it truncates or drops; returns the pairs and the report.
    static func preferenceRows<Pair>(
        _ path: String, skipBadRows: Bool, _ make: (Int, PreferenceRow, inout Int, inout Int) throws -> Pair?
    ) throws -> (pairs: [Pair], report: DataReport) {
        var report = DataReport(file: path)
        let read = try JSONLines.read(PreferenceRow.self, from: path, skipBadRows: skipBadRows) { line, row in
            try make(line, row, &report.truncated, &report.dropped)
        }
        let pairs = read.rows.compactMap { $0 }
        report.examples = read.rows.count
        report.rows = pairs.count
        report.skippedBadRows = read.skipped
        return (pairs, report)
    }
}

/// One JSONL preference row.
struct PreferenceRow: Decodable {
    let prompt: TextOrMessages, chosen: TextOrMessages, rejected: TextOrMessages
}

/// A string or a list of chat messages.
enum TextOrMessages: Decodable {
    case text(String)
    case messages([ChatMessage])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) { self = .text(s); return }
        self = .messages(try c.decode([ChatMessage].self))
    }

    /// The messages, a plain string becoming one turn of `role`.
    func messages(role: ChatMessage.Role) -> [ChatMessage] {
        switch self {
        case .text(let s): return [ChatMessage(role: role, content: s)]
        case .messages(let m): return m
        }
    }
}
