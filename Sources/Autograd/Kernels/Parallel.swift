import Dispatch
import Foundation

/// Splits loops across the machine's cores.
public enum Parallel {
    /// Threads used by our kernels and by OpenBLAS: `OPENBLAS_NUM_THREADS` if set, else the core count.
    public static let threadCount: Int = {
        if let s = ProcessInfo.processInfo.environment["OPENBLAS_NUM_THREADS"], let n = Int(s), n > 0 { return n }
        return ProcessInfo.processInfo.activeProcessorCount
    }()

    /// Calls `body(start, end)` on disjoint chunks covering `0..<n`, in parallel when `n` is at least
    /// `2 * grain` (below that, threading costs more than it saves). Chunks are contiguous and at most
    /// one per thread, so a body may keep per-chunk scratch space.
    public static func chunks(_ n: Int, grain: Int, _ body: (Int, Int) -> Void) {
        let parts = min(threadCount, n / max(grain, 1))
        if parts <= 1 {
            if n > 0 { body(0, n) }
            return
        }
        withoutActuallyEscaping(body) { body in
            let box = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: parts) { p in
                box.value(n * p / parts, n * (p + 1) / parts)
            }
        }
    }
}

/// Wraps a value whose concurrent use the caller has made safe (disjoint writes).
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
