import ArgumentParser

/// The `gemma-train` command: one executable, one subcommand per user flow.
@main
struct GemmaTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemma-train",
        abstract: "Train and fine-tune Gemma-architecture language models on CPU clusters.",
        subcommands: [Pretrain.self, SFT.self, Reward.self, Generate.self, Chat.self, Eval.self, Convert.self, InitModel.self, Tokenize.self, Inspect.self, Bench.self, VerifyCheckpoint.self])
}
