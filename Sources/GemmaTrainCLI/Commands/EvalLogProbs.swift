import ArgumentParser
import Autograd
import Datasets
import Foundation
import Gemma
import Mesh
import Training

/// `gemma-train eval logprobs`: the summed log-probability of each row's scored tokens, one JSON object
/// per row on stdout, in file order.
struct EvalLogProbs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logprobs",
        abstract: "Summed log-probabilities per row: one JSON object per row, in file order.",
        discussion: """
            preference: {"chosen_logp", "rejected_logp", "chosen_tokens", "rejected_tokens"}, the completions scored
            given the prompt as DPO scores them. chat: {"logp", "tokens"} over the model-turn tokens (with their
            <end_of_turn> and newline). text: {"logp", "tokens"} over every token after <bos>, <eos> included, as
            `eval loss` counts them. Rows are scored in padded batches; sums accumulate in Float64. A row longer
            than the model's context is truncated (text, chat; counted on stderr) or, for a preference pair,
            has its prompt cut from the left.
            """)

    @OptionGroup var model: CheckpointOptions
    @Option(help: "The data file.") var data: String
    @Option(help: "preference, chat or text.") var format = "text"
    @Option(parsing: .unconditional, help: "Sequences per forward pass.") var batch = 8
    @Option(help: "Under mpirun: the mesh, data=D,model=M (default: every rank on data).") var mesh: String?

    func validate() throws {
        guard ["preference", "chat", "text"].contains(format) else {
            throw ValidationError("--format must be preference, chat or text, got '\(format)'")
        }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
    }

    func run() throws {
        try onMesh(mesh) { deviceMesh in
            let (model, tokenizer) = try CheckpointOptions.load(self.model.checkpoint, tokenizer: self.model.tokenizer,
                                                                 expecting: .causalLM, split: deviceMesh.modelSplit)
            let context = model.config.maxPositionEmbeddings
            let examples: [Example]
            var truncated = 0
            switch format {
            case "preference":
                let template = try ChatTemplate(tokenizer: tokenizer)
                let (pairs, report) = try TrainingData.completionPairs(data, template: template, seqLen: context,
                                                                        overlong: .truncate, skipBadRows: false, keepIdentical: true)
                guard report.dropped == 0 else {
                    throw ValidationError("\(data): \(report.dropped) pairs have a completion longer than the context (\(context) tokens)")
                }
                truncated = report.truncated
                examples = pairs.flatMap { [$0.examples.chosen, $0.examples.rejected] }
            case "chat":
                examples = try EvaluationRows.chatExamples(from: data, template: ChatTemplate(tokenizer: tokenizer)).map(\.example)
            default:
                examples = try EvaluationRows.texts(from: data).map { try EvaluationRows.textExample($0.text, tokenizer: tokenizer) }
            }
            let (sums, cut) = try Self.summedLogProbs(model, examples, batch: batch, padId: tokenizer.padId ?? 0, mesh: deviceMesh)
            truncated += cut
            guard deviceMesh.isLeader else { return }
            var out = ""
            if format == "preference" {
                for i in stride(from: 0, to: sums.count, by: 2) {
                    out += jsonObject([("chosen_logp", .exact(sums[i].logp)), ("rejected_logp", .exact(sums[i + 1].logp)),
                                       ("chosen_tokens", .int(sums[i].tokens)), ("rejected_tokens", .int(sums[i + 1].tokens))]) + "\n"
                }
            } else {
                for s in sums { out += jsonObject([("logp", .exact(s.logp)), ("tokens", .int(s.tokens))]) + "\n" }
            }
            FileHandle.standardOutput.write(Data(out.utf8))
            if truncated > 0 { printError("\(truncated) rows truncated to the context of \(context) tokens") }
        }
    }

    /// Each example's summed log-probability of its scored tokens (in Float64) and their count, in the
    /// examples' order. They are scored in padded batches of `batch` examples of similar length (sorted by
    /// length, as lm-evaluation-harness does, so that padding stays small); examples longer than the
    /// context are truncated (the count is returned).
    /// On a mesh, data rank `d` of `D` scores batches `d, d + D, ...` (its model group shards each forward)
    /// and the sums are added over `data`, so every rank returns every example's.
    static func summedLogProbs(_ model: GemmaModel, _ examples: [Example], batch: Int, padId: Int32, mesh: DeviceMesh? = nil)
        throws -> (sums: [(logp: Double, tokens: Int)], truncated: Int) {
        let context = model.config.maxPositionEmbeddings
        var sums = [(logp: Double, tokens: Int)](repeating: (0, 0), count: examples.count), truncated = 0
        let byLength = examples.indices.sorted { (examples[$0].ids.count, $0) < (examples[$1].ids.count, $1) }
        let (rank, ranks) = (mesh?.dataRank ?? 0, mesh?.dataParallel ?? 1)
        for start in stride(from: rank * batch, to: byLength.count, by: batch * ranks) {
            let members = Array(byLength[start..<min(start + batch, byLength.count)])
            let chunk = members.map { examples[$0] }.map { example -> Example in
                guard example.ids.count > context else { return example }
                truncated += 1
                return Example(ids: Array(example.ids.prefix(context)), targets: Array(example.targets.prefix(context)))
            }
            let time = chunk.map(\.ids.count).max() ?? 1
            let b = Batch(Packer(seqLen: time, padId: padId, mode: .single, overlong: .truncate).pack(chunk).rows, time: time)
            let logp = withNoGrad { model.tokenLogProbs(ids: b.ids, targets: b.targets, batch: b.rows, positions: b.positions) }
            for (row, index) in members.enumerated() {  // logp: [rows, time]
                var sum = 0.0, tokens = 0
                for t in 0..<time where b.targets[row * time + t] != ignoreIndex {
                    sum += Double(logp.data[row * time + t])
                    tokens += 1
                }
                sums[index] = (sum, tokens)
            }
        }
        guard let mesh, mesh.dataParallel > 1 else { return (sums, truncated) }
        let total = try mesh.dataAxis.allReduceSum(sums.map(\.logp) + sums.map { Double($0.tokens) } + [Double(truncated)])
        let n = examples.count
        return ((0..<n).map { (total[$0], Int(total[n + $0])) }, Int(total[2 * n]))
    }
}
