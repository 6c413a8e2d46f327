import ArgumentParser
import Datasets
import Foundation
import Gemma

/// `gemma-train eval choice`: multiple-choice accuracy by log-likelihood, the way lm-evaluation-harness
/// scores HellaSwag, ARC, PIQA and MMLU.
struct EvalChoice: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "choice",
        abstract: "Multiple-choice accuracy by log-likelihood (acc, acc_norm with 95% intervals; one JSON line).",
        discussion: """
            Rows: {"context": str, "choices": [str], "answer": int}, or {"messages": [...], "choices", "answer"} for \
            an instruction-tuned model. Each choice is scored by the summed log-probability of its tokens given the \
            context, split as lm-evaluation-harness splits them (target delimiter " "; the choice's tokens are \
            those of encode(context + " " + choice) past those of encode(context), after <bos>). acc: the \
            highest-scoring choice is the answer; acc_norm: the same with each score divided by the choice's \
            UTF-8 byte length. Intervals are Wilson's at 95%. Under mpirun, --mesh splits the choices over data \
            and shards each forward over model.
            """)

    @OptionGroup var model: CheckpointOptions
    @Option(help: "JSONL rows {\"context\" or \"messages\", \"choices\", \"answer\"}.") var data: String
    @Option(parsing: .unconditional, help: "Sequences per forward pass.") var batch = 8
    @Option(help: "Under mpirun: the mesh, data=D,model=M (default: every rank on data).") var mesh: String?
    @Option(help: "Write every row's per-choice log-likelihoods and prediction here (JSONL).") var save: String?
    @Flag(help: "Replace an existing --save file.") var force = false

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
    }

    func run() throws {
        try onMesh(mesh) { deviceMesh in
            if let save, deviceMesh.isLeader { try OutputPath.check(save, kind: .file, force: force, option: "--save") }
            let (model, tokenizer) = try CheckpointOptions.load(self.model.checkpoint, tokenizer: self.model.tokenizer,
                                                                 expecting: .causalLM, split: deviceMesh.modelSplit)
            let template = try ChatTemplate(tokenizer: tokenizer)
            let maxLength = model.config.maxPositionEmbeddings
            var truncated = 0
            let rows = try JSONLines.read(ChoiceRow.self, from: data, skipBadRows: false) { line, row in
                do {
                    let made = try row.examples(template: template, maxLength: maxLength)
                    if made.truncated { truncated += 1 }
                    return (line: line, row: row, examples: made.examples)
                } catch let error as ChoiceRow.ChoiceError {
                    throw DataError(file: data, line: line, message: error.description)
                }
            }.rows
            guard !rows.isEmpty else { throw ValidationError("\(data): no rows") }
            let (sums, _) = try EvalLogProbs.summedLogProbs(model, rows.flatMap(\.examples), batch: batch,
                                                            padId: tokenizer.padId ?? 0, mesh: deviceMesh)
            guard deviceMesh.isLeader else { return }
            var scores = Scores(), offset = 0, saved = ""
            for (line, row, examples) in rows {
                let logps = sums[offset..<(offset + examples.count)].map(\.logp)
                offset += examples.count
                let prediction = scores.add(logps, choices: row.choices, answer: row.answer)
                if save != nil {
                    saved += jsonObject([("line", .int(line)), ("logps", .array(logps.map { .exact($0) })),
                                         ("prediction", .int(prediction.acc)), ("prediction_norm", .int(prediction.accNorm)),
                                         ("answer", .int(row.answer))]) + "\n"
                }
            }
            if let save { try OutputPath.write(saved, to: save) }
            let n = rows.count
            let acc = wilsonInterval(successes: scores.correct, n: n), norm = wilsonInterval(successes: scores.correctNorm, n: n)
            print(jsonObject([("acc", .exact(scores.correct / Double(n))), ("acc_ci95_low", .exact(acc.low)), ("acc_ci95_high", .exact(acc.high)),
                              ("acc_norm", .exact(scores.correctNorm / Double(n))), ("acc_norm_ci95_low", .exact(norm.low)),
                              ("acc_norm_ci95_high", .exact(norm.high)), ("n", .int(n))]))
            if truncated > 0 { printError("\(truncated) rows had their context cut from the left to fit \(maxLength) tokens") }
        }
    }

    /// Correct predictions so far, unnormalised and length-normalised.
    struct Scores {
        var correct = 0.0, correctNorm = 0.0

        /// Adds a row scored `logps` (one per choice) and returns its predictions: the first choice of
        /// the highest log-likelihood, and of the highest log-likelihood per UTF-8 byte (as the harness,
        /// `np.argmax`, takes the first of equal values).
        mutating func add(_ logps: [Double], choices: [String], answer: Int) -> (acc: Int, accNorm: Int) {
            let acc = argmax(logps), accNorm = argmax(zip(logps, choices).map { $0 / Double($1.utf8.count) })
            correct += acc == answer ? 1 : 0
            correctNorm += accNorm == answer ? 1 : 0
            return (acc, accNorm)
        }

        func argmax(_ values: [Double]) -> Int {
            values.indices.reduce(0) { values[$1] > values[$0] ? $1 : $0 }
        }
    }
}
