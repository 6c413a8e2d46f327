import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Training progress on standard output, printed by rank 0 only (`enabled`).
///
/// On a terminal, one line redrawn in place (carriage return), at most ten times a second:
///
///     [#####...............]  20/500 loss 3.2145 lr 3.00e-04 tok/s 1234 eta 2m10s
///
/// Otherwise (a log file, a pipe, a batch job) a plain line every `every` steps and at the last step:
///
///     step 20/500 loss 3.2145 lr 3.00e-04 tok/s 1234 eta 2m10s
///
/// The lines are pure functions of a ``State`` (``plainLine(_:)``, ``barLine(_:width:)``). The ETA is the
/// mean time per step since `startStep` times the steps left.
public final class ProgressDisplay {
    /// What a progress line shows.
    public struct State: Sendable, Equatable {
        public var step: Int
        public var totalSteps: Int
        public var loss: Float
        public var lr: Float
        public var tokensPerSecond: Double
        /// Seconds left, or nil while unknown.
        public var etaSeconds: Double?
        /// The objective's headline metrics, shown after the loss (`rewards/accuracies 0.75`).
        public var shown: [Shown] = []

        /// One metric of the line.
        public struct Shown: Sendable, Equatable {
            public var name: String, value: Double
            public init(_ name: String, _ value: Double) {
                self.name = name
                self.value = value
            }
        }

        public init(step: Int, totalSteps: Int, loss: Float, lr: Float, tokensPerSecond: Double, etaSeconds: Double?,
                    shown: [Shown] = []) {
            self.step = step
            self.totalSteps = totalSteps
            self.loss = loss
            self.lr = lr
            self.tokensPerSecond = tokensPerSecond
            self.etaSeconds = etaSeconds
            self.shown = shown
        }
    }

    public let totalSteps: Int
    /// Plain mode prints every this many steps.
    public let every: Int
    /// False on every rank but 0: nothing is printed.
    public let enabled: Bool
    /// Whether the single redrawn line is used.
    public let isTerminal: Bool
    /// Names of `StepRecord.extra` metrics shown on the line.
    private let shownMetrics: [String]
    private let startStep: Int
    private let startElapsed: Double
    private let output: (String) -> Void
    /// The bar line on screen (not yet ended by a newline), if any.
    private var shownBar: String?
    private var lastDrawElapsed = -Double.infinity

    /// - Parameters:
    ///   - totalSteps: The step the run ends at (`train.steps`).
    ///   - every: Plain mode prints when `step % every == 0` (`log.every`).
    ///   - enabled: Whether to print at all: true on rank 0 only.
    ///   - startStep: The step training starts after (the resumed checkpoint's step; 0 for a new run).
    ///   - startElapsed: The records' `elapsedSeconds` at `startStep` (0 unless elapsed time carries
    ///     over a resume).
    ///   - isTerminal: Whether output goes to a terminal; `isatty(STDOUT_FILENO)` by default.
    ///   - shownMetrics: Names of the records' extra metrics to show after the loss.
    ///   - output: Where text goes; standard output (flushed) by default.
    public init(totalSteps: Int, every: Int = 1, enabled: Bool, startStep: Int = 0, startElapsed: Double = 0,
                isTerminal: Bool? = nil, shownMetrics: [String] = [], output: ((String) -> Void)? = nil) {
        self.totalSteps = totalSteps
        self.shownMetrics = shownMetrics
        self.every = max(every, 1)
        self.enabled = enabled
        self.startStep = startStep
        self.startElapsed = startElapsed
        self.isTerminal = isTerminal ?? (isatty(STDOUT_FILENO) != 0)
        self.output = output ?? { text in
            print(text, terminator: "")
            fflush(nil)
        }
    }

    /// Shows `record`'s step: redraws the bar on a terminal, else prints a line when due.
    public func update(_ record: StepRecord) {
        guard enabled else { return }
        let last = record.step >= totalSteps
        if isTerminal {
            guard last || record.elapsedSeconds - lastDrawElapsed >= 0.1 else { return }
            lastDrawElapsed = record.elapsedSeconds
            let line = Self.barLine(state(record))
            shownBar = line
            output("\r" + line + "\u{1B}[K" + (last ? "\n" : ""))
            if last { shownBar = nil }
        } else if last || record.step % every == 0 {
            output(Self.plainLine(state(record)) + "\n")
        }
    }

    /// Prints `text` as a line of its own (an evaluation result, a saved checkpoint), above the bar on
    /// a terminal.
    public func message(_ text: String) {
        guard enabled else { return }
        if let shownBar {
            output("\r\u{1B}[K" + text + "\n" + shownBar)
        } else {
            output(text + "\n")
        }
    }

    /// Ends the bar line, if one is shown (a run stopped before its last step).
    public func finish() {
        guard enabled, shownBar != nil else { return }
        shownBar = nil
        output("\n")
    }

    private func state(_ r: StepRecord) -> State {
        State(step: r.step, totalSteps: totalSteps, loss: r.loss, lr: r.lr, tokensPerSecond: r.tokensPerSecond,
              etaSeconds: Self.eta(step: r.step, totalSteps: totalSteps, startStep: startStep,
                                   seconds: r.elapsedSeconds - startElapsed),
              shown: shownMetrics.compactMap { name in r.extra.first { $0.0 == name }.map { State.Shown(name, $0.1) } })
    }

    // MARK: Formatting (pure)

    /// `step 20/500 loss 3.2145 lr 3.00e-04 tok/s 1234 eta 2m10s`.
    public static func plainLine(_ s: State) -> String {
        "step \(s.step)/\(s.totalSteps) " + metrics(s)
    }

    /// `[#####...............]  20/500 loss 3.2145 lr 3.00e-04 tok/s 1234 eta 2m10s`: a bar of `width`
    /// cells, the step padded to the width of the total so the line does not jitter.
    public static func barLine(_ s: State, width: Int = 20) -> String {
        let fraction = s.totalSteps > 0 ? min(max(Double(s.step) / Double(s.totalSteps), 0), 1) : 0
        let filled = Int(fraction * Double(width))
        let total = String(s.totalSteps)
        let step = String(s.step)
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
            + String(repeating: " ", count: max(total.count - step.count, 0)) + step + "/" + total + " " + metrics(s)
    }

    private static func metrics(_ s: State) -> String {
        "loss " + String(format: "%.4f", Double(s.loss))
            + s.shown.map { " \($0.name) " + String(format: "%.4g", $0.value) }.joined()
            + " lr " + String(format: "%.2e", Double(s.lr))
            + " tok/s " + String(format: "%.0f", s.tokensPerSecond) + " eta " + duration(s.etaSeconds)
    }

    /// A duration as `45s`, `2m10s` or `1h02m` (rounded to the second; minutes and seconds after a larger
    /// unit are two digits); `--` when nil, negative or not finite.
    public static func duration(_ seconds: Double?) -> String {
        guard let seconds, seconds.isFinite, seconds >= 0, seconds < 1e12 else { return "--" }
        let s = Int(seconds.rounded())
        func two(_ x: Int) -> String { x < 10 ? "0\(x)" : "\(x)" }
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m" + two(s % 60) + "s" }
        return "\(s / 3600)h" + two(s % 3600 / 60) + "m"
    }

    /// Seconds left at `step`: the mean time of the `step - startStep` steps done in `seconds`, times the
    /// steps left; nil before any step is done.
    public static func eta(step: Int, totalSteps: Int, startStep: Int, seconds: Double) -> Double? {
        let done = step - startStep
        guard done > 0, seconds > 0 else { return nil }
        return seconds / Double(done) * Double(max(totalSteps - step, 0))
    }
}
