import Foundation

extension CheckpointDirectory {
    /// The checkpoint a run resumes from, fully verified (``CheckpointReader/verify()``) and holding
    /// training state, as `verifier` checks it (in a child process, a file that crashes the HDF5 library
    /// is one more failure to fall back from).
    ///
    /// - `resume == "auto"`: removes temporary files of unfinished saves, then tries the checkpoint the
    ///   `latest` marker names (or, if the marker is missing or names a file that is gone, the newest
    ///   by step), then each older one, newest first. Each one that fails is logged in one line naming
    ///   it, why, and what comes next, e.g.
    ///   `runs/a/ckpt-00000020.h5: dataset /params/x: checksum mismatch (...); falling back to runs/a/ckpt-00000010.h5`.
    ///   Returns nil when the directory holds no checkpoint (a fresh start).
    /// - Otherwise `resume` is a checkpoint path, which must pass on its own: no fallback.
    ///
    /// Checking the model config against the run's is the caller's (``CheckpointReader/checkModel(_:kind:)``):
    /// a mismatch is a configuration error, not a damaged file to fall back from.
    /// - Parameters:
    ///   - verifier: How each candidate is checked; ``CheckpointVerifier/inProcess`` by default.
    ///   - log: Receives the fallback lines.
    /// - Throws: ``CheckpointError`` for a `resume` path that fails, or when every checkpoint fails.
    public func resolve(resume: String, verifier: CheckpointVerifier = .inProcess, log: (String) -> Void) throws -> String? {
        guard resume == "auto" else {
            try verifier.check(resume)
            return resume
        }
        try removeTemporaryFiles()
        let all = try checkpoints()
        guard let newest = all.last else { return nil }
        var first = newest
        if let marked = latest() {
            if let entry = all.first(where: { $0.fileName == marked }) {
                first = entry
            } else {
                log("\(markerPath): names \(marked), which is not a checkpoint here; starting from the newest, \(newest.path)")
            }
        }
        let candidates = [first] + all.filter { $0.step < first.step }.reversed()
        var lastError: CheckpointError?
        for (index, entry) in candidates.enumerated() {
            do {
                try verifier.check(entry.path)
                return entry.path
            } catch let error as CheckpointError {
                let next = index + 1 < candidates.count ? "falling back to \(candidates[index + 1].path)" : "no earlier checkpoint"
                log("\(error); \(next)")
                lastError = error
            }
        }
        throw CheckpointError(file: path, reason: "none of the \(candidates.count) checkpoints can be resumed from; the oldest: \(lastError!)")
    }
}
