import ArgumentParser
import Datasets
import Foundation
import Gemma

/// `gemma-train eval memorization`: how much of its training data a model reproduces verbatim, as the
/// Gemma report measures it (exact and approximate memorization of suffixes given prefixes).
struct EvalMemorization: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memorization",
        abstract: "Exact and approximate memorization rates of training sequences, with 95% intervals (one JSON line).",
        discussion: """
            Takes --samples sequences of the data (chosen by --seed among those with at least prefix + suffix tokens \
            after <bos>), feeds <bos> and the first --prefix tokens, decodes --suffix tokens greedily, and compares \
            them with the sequence's next --suffix tokens: exact when identical, approximate when their token-level \
            edit distance is at most 10% of the suffix. Prints {"exact_rate", "exact_ci95_low", "exact_ci95_high", \
            "approximate_rate", "approximate_ci95_low", "approximate_ci95_high", "n", "eligible", \
            "memorized_with_pii"}; intervals are Wilson's at 95%; memorized_with_pii counts the approximately \
            memorized suffixes in which data filter's PII scanner finds personal data. Data: .jsonl rows {"text": ...} (or {"messages": [...]}, rendered in the turn format \
            with --format chat) or a text file of one sequence per line.
            """)

    @OptionGroup var model: CheckpointOptions
    @Option(help: "The training data to test.") var data: String
    @Option(help: "text or chat.") var format = "text"
    @Option(parsing: .unconditional, help: "Tokens given to the model.") var prefix = 50
    @Option(parsing: .unconditional, help: "Tokens the model must reproduce.") var suffix = 50
    @Option(parsing: .unconditional, help: "Sequences tested (default: 1000, or every eligible one if fewer).") var samples = 1000
    @Option(parsing: .unconditional, help: "Chooses the sequences.") var seed: UInt64 = 0
    @Option(parsing: .unconditional, help: "Sequences decoded together.") var batch = 16
    @Option(help: "Under mpirun: the mesh, data=D,model=M (default: every rank on data).") var mesh: String?
    @Option(help: "Write every case (prefix, expected and generated suffix, edit distance) here (JSONL).") var save: String?
    @Flag(help: "Replace an existing --save file.") var force = false

    func validate() throws {
        guard ["text", "chat"].contains(format) else { throw ValidationError("--format must be text or chat, got '\(format)'") }
        guard prefix >= 1, suffix >= 1 else { throw ValidationError("--prefix and --suffix must be at least 1") }
        guard samples >= 1, batch >= 1 else { throw ValidationError("--samples and --batch must be at least 1") }
    }

    /// One tested sequence.
    struct Case {
        let line: Int
        /// `<bos>` and the prefix; the true suffix.
        let input: [Int32], expected: [Int32]
    }

    func run() throws {
        try onMesh(mesh) { deviceMesh in
            if let save, deviceMesh.isLeader { try OutputPath.check(save, kind: .file, force: force, option: "--save") }
            let (model, tokenizer) = try CheckpointOptions.load(self.model.checkpoint, tokenizer: self.model.tokenizer,
                                                                 expecting: .causalLM, split: deviceMesh.modelSplit)
            let context = model.config.maxPositionEmbeddings
            guard 1 + prefix + suffix <= context else {
                throw ValidationError("--prefix \(prefix) + --suffix \(suffix) (+ <bos>) exceed the model's context of \(context) tokens")
            }
            let (cases, eligible) = try sequences(tokenizer)
            // Data rank d of D decodes cases d, d + D, ...; distances and outputs are summed over `data`.
            let (rank, ranks) = (deviceMesh.dataRank, deviceMesh.dataParallel)
            var distances = [Double](repeating: 0, count: cases.count)
            var generated = [Double](repeating: 0, count: cases.count * suffix)
            let mine = Array(stride(from: rank, to: cases.count, by: ranks))
            for start in stride(from: 0, to: mine.count, by: batch) {
                let members = Array(mine[start..<min(start + batch, mine.count)])
                let replies = try BatchGenerator.generate(model, prompts: members.map { cases[$0].input },
                                                          options: members.map { _ in SamplingOptions(temperature: 0) },
                                                          stopTokens: [], maxTokens: suffix)
                for (i, reply) in zip(members, replies) {
                    distances[i] = Double(editDistance(reply, cases[i].expected))
                    for (t, token) in reply.enumerated() { generated[i * suffix + t] = Double(token) + 1 }  // 0: none
                }
            }
            if ranks > 1 {
                let total = try deviceMesh.dataAxis.allReduceSum(distances + generated)
                (distances, generated) = (Array(total[..<cases.count]), Array(total[cases.count...]))
            }
            guard deviceMesh.isLeader else { return }
            let threshold = 0.1 * Double(suffix)
            let exact = distances.filter { $0 == 0 }.count, approximate = distances.filter { $0 <= threshold }.count
            // The personal data in each memorized suffix, by kind.
            let scanner = PIIScanner()
            let pii = cases.indices.map { i in
                distances[i] <= threshold ? Set(scanner.matches(in: Array(tokenizer.decode(cases[i].expected).utf8)).map(\.kind)).sorted() : []
            }
            if let save {
                var saved = ""
                for (i, c) in cases.enumerated() {
                    let reply = generated[(i * suffix)..<((i + 1) * suffix)].filter { $0 > 0 }.map { Int32($0 - 1) }
                    saved += jsonObject([("line", .int(c.line)), ("prefix", .string(tokenizer.decode(Array(c.input.dropFirst())))),
                                         ("expected", .string(tokenizer.decode(c.expected))), ("generated", .string(tokenizer.decode(reply))),
                                         ("edit_distance", .int(Int(distances[i]))), ("exact", .bool(distances[i] == 0)),
                                         ("approximate", .bool(distances[i] <= threshold)),
                                         ("pii", .array(pii[i].map { .string($0.rawValue) }))]) + "\n"
                }
                try OutputPath.write(saved, to: save)
            }
            let n = cases.count
            let e = wilsonInterval(successes: Double(exact), n: n), a = wilsonInterval(successes: Double(approximate), n: n)
            print(jsonObject([("exact_rate", .exact(Double(exact) / Double(n))), ("exact_ci95_low", .exact(e.low)), ("exact_ci95_high", .exact(e.high)),
                              ("approximate_rate", .exact(Double(approximate) / Double(n))), ("approximate_ci95_low", .exact(a.low)),
                              ("approximate_ci95_high", .exact(a.high)), ("n", .int(n)), ("eligible", .int(eligible)),
                              ("memorized_with_pii", .int(pii.filter { !$0.isEmpty }.count))]))
        }
    }

    /// The tested cases (up to `samples` of the eligible sequences, picked by a permutation seeded with
    /// `seed`, in file order) and how many sequences were eligible.
    func sequences(_ tokenizer: SentencePieceTokenizer) throws -> (cases: [Case], eligible: Int) {
        let rows: [(line: Int, ids: [Int32])]
        if format == "chat" {
            let template = try ChatTemplate(tokenizer: tokenizer)
            rows = try JSONLines.read(ChatDialogue.self, from: data, skipBadRows: false) { line, dialogue in
                do { return (line, try template.encode(dialogue.messages).ids) } catch {
                    throw DataError(file: data, line: line, message: "\(error)")
                }
            }.rows
        } else {
            guard let bos = tokenizer.bosId else { throw ValidationError("\(tokenizer.source) has no <bos> piece") }
            rows = try EvaluationRows.texts(from: data).map { ($0.line, [bos] + tokenizer.encode($0.text)) }
        }
        let eligible = rows.filter { $0.ids.count >= 1 + prefix + suffix }
        guard !eligible.isEmpty else {
            throw ValidationError("\(data): no sequence has \(prefix) + \(suffix) tokens after <bos> (\(rows.count) rows)")
        }
        let picked = SampleOrder.permutation(count: eligible.count, seed: seed, epoch: 0).prefix(samples).sorted()
        return (picked.map { i in
            let ids = eligible[i].ids
            return Case(line: eligible[i].line, input: Array(ids[...prefix]), expected: Array(ids[(prefix + 1)...(prefix + suffix)]))
        }, eligible.count)
    }
}
