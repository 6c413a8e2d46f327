import ArgumentParser
import Foundation

/// The `gemma-train` command: one executable, one subcommand per user flow.
///
/// Every failure, whether a bad option or a failed run, is one line `error: <what>` on standard error
/// and exit code 1 (``main()``); `--help` prints to standard output and exits 0.
@main
struct GemmaTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemma-train",
        abstract: "Train and fine-tune Gemma-architecture language models on CPU clusters.",
        subcommands: [Pretrain.self, SFT.self, Reward.self, DPO.self, RL.self, Generate.self, Chat.self, Eval.self, Convert.self, InitModel.self, Tokenize.self, Inspect.self, DataCommand.self, Bench.self, Plan.self, VerifyCheckpoint.self])

    /// Parses the arguments and runs the chosen subcommand. Errors the subcommand has reported already
    /// arrive as an ``ExitCode``; option errors are printed here in the same one-line style.
    static func main() {
        let command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            exitReporting(error, usageHint: true)
        }
        do {
            var command = command
            try command.run()
        } catch {
            exitReporting(error)
        }
    }

    /// Prints `error` as the project's one line (help and version text go to stdout) and exits:
    /// 0 for help, 1 for every failure. `usageHint` points an option error at `--help`.
    static func exitReporting(_ error: any Error, usageHint: Bool = false) -> Never {
        if let code = error as? ExitCode { Foundation.exit(code.rawValue) }
        let code = exitCode(for: error)
        if code == .success {
            print(fullMessage(for: error))
            Foundation.exit(0)
        }
        let hint = usageHint ? " (see \((["gemma-train"] + subcommandPath()).joined(separator: " ")) --help)" : ""
        printError("error: \(message(for: error))\(hint)")
        Foundation.exit(1)
    }

    /// The subcommand names at the start of the command line, e.g. `["eval", "loss"]`.
    static func subcommandPath() -> [String] {
        var path: [String] = [], level = configuration.subcommands
        for argument in CommandLine.arguments.dropFirst() {
            guard let next = level.first(where: { $0._commandName == argument }) else { break }
            path.append(argument)
            level = next.configuration.subcommands
        }
        return path
    }
}
