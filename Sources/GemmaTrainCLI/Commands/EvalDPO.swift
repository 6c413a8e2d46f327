import ArgumentParser
import Autograd
import Datasets
import Foundation
import Gemma
import Training

/// `gemma-train eval dpo`: how a policy compares with its reference on preference pairs, in DPO's terms.
struct EvalDPO: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dpo",
        abstract: "DPO loss and implicit rewards of a policy against a reference on preference pairs (one JSON line).",
        discussion: """
            Prints {"loss", "rewards_chosen", "rewards_rejected", "rewards_accuracy", "rewards_margin", "pairs"}:
            means over the pairs of the DPO (sigmoid) or IPO loss and of the rewards β·(π − r), where π and r are
            the summed completion log-probabilities under the policy and the reference; accuracy counts pairs
            whose chosen reward is strictly greater. Pairs with chosen = rejected are skipped and counted.
            """)

    @Option(help: "The policy: a GemmaTrain .h5 checkpoint or a Hugging Face model directory.") var policy: String
    @Option(help: "The reference model (usually the policy's starting point, e.g. the SFT checkpoint).") var reference: String
    @Option(help: "JSONL preference pairs {\"prompt\", \"chosen\", \"rejected\"}.") var data: String
    @Option(parsing: .unconditional, help: "β of the loss and rewards.") var beta: Double = 0.1
    @Option(help: "sigmoid (DPO) or ipo.") var loss = "sigmoid"
    @Option(parsing: .unconditional, help: "Sequences per forward pass.") var batch = 8

    func validate() throws {
        guard beta.isFinite && beta > 0 else { throw ValidationError("--beta must be a finite number > 0, got \(beta)") }
        guard PreferenceLoss.Kind(rawValue: loss) != nil else { throw ValidationError("--loss must be sigmoid or ipo, got '\(loss)'") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
    }

    func run() throws {
        try reportingErrors {
            let (policyModel, tokenizer) = try CheckpointOptions.load(policy, expecting: .causalLM)
            let (referenceModel, referenceTokenizer) = try CheckpointOptions.load(reference, expecting: .causalLM)
            try PreferenceObjective.checkReference(referenceModel, tokenizer: [UInt8](referenceTokenizer.modelData),
                                                   named: "--reference \(reference)", policy: policyModel.config,
                                                   policyTokenizer: [UInt8](tokenizer.modelData))
            let (pairs, report) = try TrainingData.completionPairs(data, template: ChatTemplate(tokenizer: tokenizer),
                                                                    seqLen: policyModel.config.maxPositionEmbeddings,
                                                                    overlong: .truncate, skipBadRows: false)
            guard !pairs.isEmpty else { throw ValidationError("\(data): no preference pairs (\(report))") }
            // Chosen sequences, then rejected ones: PreferenceLoss's layout.
            let sides = pairs.map(\.examples)
            let examples = sides.map(\.chosen) + sides.map(\.rejected)
            let padId = tokenizer.padId ?? 0
            let pi = try EvalLogProbs.summedLogProbs(policyModel, examples, batch: batch, padId: padId).sums.map { Float($0.logp) }
            let r = try EvalLogProbs.summedLogProbs(referenceModel, examples, batch: batch, padId: padId).sums.map { Float($0.logp) }
            let objective = PreferenceLoss(kind: PreferenceLoss.Kind(rawValue: loss)!, beta: Float(beta))
            let (value, sums) = withNoGrad { objective(policy: Tensor(pi, shape: [pi.count]), reference: r, normalizer: pairs.count) }
            let n = Double(pairs.count)
            print(jsonObject([
                ("loss", .exact(Double(value.item))), ("rewards_chosen", .exact(sums.rewardsChosen / n)),
                ("rewards_rejected", .exact(sums.rewardsRejected / n)), ("rewards_accuracy", .exact(sums.accuracies / n)),
                ("rewards_margin", .exact((sums.rewardsChosen - sums.rewardsRejected) / n)), ("pairs", .int(pairs.count)),
                ("identical_pairs_skipped", .int(report.identicalPairs)),
            ]))
        }
    }
}
