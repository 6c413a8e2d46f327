import Foundation

/// A deliberate failure for the fail-fast tests (Docs/Testing.md): with `GEMMA_TRAIN_FAULT=R:S` in the
/// environment, world rank `R` throws at the start of step `S`, as a rank hitting bad input would.
struct FaultInjection {
    let rank: Int, step: Int

    /// The fault the environment asks for, if any.
    static let fromEnvironment: FaultInjection? = {
        guard let spec = ProcessInfo.processInfo.environment["GEMMA_TRAIN_FAULT"] else { return nil }
        let parts = spec.split(separator: ":").compactMap { Int($0) }
        return parts.count == 2 ? FaultInjection(rank: parts[0], step: parts[1]) : nil
    }()

    /// Throws when `rank` is at the faulty `step`.
    func check(rank: Int, step: Int) throws {
        if rank == self.rank && step == self.step {
            throw TrainingError("step \(step): fault injected by GEMMA_TRAIN_FAULT")
        }
    }
}
