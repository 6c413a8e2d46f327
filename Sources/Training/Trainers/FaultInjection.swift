import Foundation

/// A deliberate failure for the fail-fast and NaN-policy tests (Docs/Testing.md): with
/// `GEMMA_TRAIN_FAULT=R:S` in the environment, world rank `R` throws at the start of step `S`, as a rank
/// hitting bad input would; with `GEMMA_TRAIN_FAULT=R:S:nan` its share of step `S`'s loss is NaN instead.
struct FaultInjection {
    let rank: Int, step: Int
    /// Whether the fault is a NaN loss rather than an error.
    let nan: Bool

    /// The fault the environment asks for, if any.
    static let fromEnvironment: FaultInjection? = {
        guard let spec = ProcessInfo.processInfo.environment["GEMMA_TRAIN_FAULT"] else { return nil }
        let parts = spec.split(separator: ":")
        guard parts.count == 2 || (parts.count == 3 && parts[2] == "nan"),
              let rank = Int(parts[0]), let step = Int(parts[1]) else { return nil }
        return FaultInjection(rank: rank, step: step, nan: parts.count == 3)
    }()

    /// Throws when `rank` is at the faulty `step` (and the fault is an error).
    func check(rank: Int, step: Int) throws {
        if !nan && rank == self.rank && step == self.step {
            throw TrainingError("step \(step): fault injected by GEMMA_TRAIN_FAULT")
        }
    }

    /// `loss`, or NaN when `rank` is at the faulty `step` of a NaN fault.
    func loss(_ loss: Double, rank: Int, step: Int) -> Double {
        nan && rank == self.rank && step == self.step ? .nan : loss
    }
}
