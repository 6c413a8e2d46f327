import Foundation
import NN

/// A deliberate failure for the fail-fast and NaN-policy tests (Docs/Testing.md), from the environment
/// variable `GEMMA_TRAIN_FAULT=R:STEPS[:KIND]`: world rank `R`, at each step of `STEPS` (`S` or `S-E`),
/// - throws at the start of the step, as a rank hitting bad input would (no KIND);
/// - `nan`: contributes a NaN share of the step's loss;
/// - `nan-weights`: turns its first parameter to NaN after the step's update (ruined weights).
struct FaultInjection {
    enum Kind: String { case error = "", nan, nanWeights = "nan-weights" }
    let rank: Int, steps: ClosedRange<Int>, kind: Kind

    /// The fault the environment asks for, if any.
    static let fromEnvironment: FaultInjection? = {
        guard let spec = ProcessInfo.processInfo.environment["GEMMA_TRAIN_FAULT"] else { return nil }
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 || parts.count == 3, let rank = Int(parts[0]),
              let kind = Kind(rawValue: parts.count == 3 ? parts[2] : "") else { return nil }
        let bounds = parts[1].split(separator: "-").compactMap { Int($0) }
        guard bounds.count == 1 || bounds.count == 2, bounds[0] <= bounds[bounds.count - 1] else { return nil }
        return FaultInjection(rank: rank, steps: bounds[0]...bounds[bounds.count - 1], kind: kind)
    }()

    private func hits(_ kind: Kind, rank: Int, step: Int) -> Bool {
        self.kind == kind && rank == self.rank && steps.contains(step)
    }

    /// Throws when `rank` is at a faulty step (and the fault is an error).
    func check(rank: Int, step: Int) throws {
        if hits(.error, rank: rank, step: step) { throw TrainingError("step \(step): fault injected by GEMMA_TRAIN_FAULT") }
    }

    /// `loss`, or NaN when `rank` is at a faulty step of a NaN fault.
    func loss(_ loss: Double, rank: Int, step: Int) -> Double {
        hits(.nan, rank: rank, step: step) ? .nan : loss
    }

    /// After the update of a faulty step of a `nan-weights` fault, sets the first trainable parameter of `store` to NaN.
    func update(_ store: ParameterStore, rank: Int, step: Int) {
        if hits(.nanWeights, rank: rank, step: step) { store.values.data[store.trainable.lowerBound] = .nan }
    }
}
