#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// SIGTERM and SIGINT (a scheduler's pre-emption, Ctrl-C) ask a run to stop: the current step
/// finishes, a checkpoint is saved and the process exits 0. The handler only sets a flag; the
/// training loop reads it between steps (and, on a mesh, agrees on it across ranks).
enum StopRequest {
    private static let flag = Atomic<Int32>(0)

    /// Installs the handlers for SIGTERM and SIGINT (idempotent).
    static func install() {
        for signalNumber in [SIGTERM, SIGINT] {
            signal(signalNumber) { number in StopRequest.flag.store(number, ordering: .relaxed) }
        }
    }

    /// The signal received since the handlers were installed, if any.
    static var received: Int32? {
        let number = flag.load(ordering: .relaxed)
        return number == 0 ? nil : number
    }
}
