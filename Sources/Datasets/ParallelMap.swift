import Dispatch
import Foundation

/// `body(i)` for every `i` of `range`, on up to `threads` threads (worker `w` takes the `w`-th, then every
/// `threads`-th index); the results in the order of `range`. With one thread or one index, runs on the
/// calling thread.
func orderedParallelMap<T>(_ range: Range<Int>, threads: Int, _ body: @Sendable (Int) -> T) -> [T] {
    let workers = min(threads, range.count)
    guard workers > 1 else { return range.map(body) }
    var results = [T?](repeating: nil, count: range.count)
    results.withUnsafeMutableBufferPointer { out in
        let shared = SharedResults(buffer: out)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for i in stride(from: worker, to: range.count, by: workers) {
                shared.buffer[i] = body(range.lowerBound + i)  // each index written by one worker
            }
        }
    }
    return results.map { $0! }
}

/// Tells the kernel it may drop the pages of `bytes[range]` of a read-only mapping (read once; re-read
/// from the file if touched again), so that streaming a large file does not grow the resident set by
/// its size: the pages from the one holding `range`'s start up to (not including) the one holding its
/// end, for a caller done with everything before `range.upperBound`.
func releasePages(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) {
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    let start = range.lowerBound / page * page, end = range.upperBound / page * page
    guard end > start, let base = bytes.baseAddress else { return }
    _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, MADV_DONTNEED)
}

/// The results buffer, written by the workers at disjoint indices.
private struct SharedResults<T>: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<T?>
}
