import Foundation

/// A 64-byte aligned Float32 buffer. Buffers come from and go back to ``BufferPool`` so a training
/// step that allocates the same sizes as the previous one touches no fresh pages.
final class Storage: @unchecked Sendable {
    /// First element; valid for `capacity` floats.
    let base: UnsafeMutablePointer<Float>
    let capacity: Int

    /// Uninitialised storage for at least `count` floats (callers write every element before reading);
    /// the capacity is rounded up to the pool's size class.
    init(capacity count: Int) {
        capacity = BufferPool.sizeClass(count)
        base = BufferPool.shared.take(capacity)
    }

    deinit { BufferPool.shared.give(base, capacity) }
}

/// Recycles freed buffers by size class. It keeps at most as many bytes as were ever in use at once (so
/// a step's activations are there for the next step, but varying shapes cannot grow it without bound),
/// and never more than a quarter of physical memory.
///
/// Training repeats the same shapes every step, so reuse hits almost always; it avoids the page faults of
/// `mmap`-backed large allocations that otherwise cost more than many kernels. Sizes are rounded up to
/// classes (eight per power of two, at most 12.5% larger) so that shapes which vary a little from step to
/// step (right-padded preference batches) share buffers instead of filling the pool with near-duplicates.
final class BufferPool: @unchecked Sendable {  // state guarded by `lock`
    static let shared = BufferPool(budgetBytes: Int(ProcessInfo.processInfo.physicalMemory / 4))

    /// `count` rounded up to its size class: multiples of 16 floats up to 1024, then eight classes per
    /// power of two.
    static func sizeClass(_ count: Int) -> Int {
        guard count > 1024 else { return max(16, (count + 15) & ~15) }
        let step = (1 << (Int.bitWidth - 1 - count.leadingZeroBitCount)) / 8
        return (count + step - 1) / step * step
    }

    private let lock = NSLock()
    private var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
    private var pooledBytes = 0
    /// Bytes handed out and not yet returned, and the most there ever were.
    private var liveBytes = 0, peakLiveBytes = 0
    private var largest = 0
    private let budgetBytes: Int

    init(budgetBytes: Int) { self.budgetBytes = budgetBytes }

    func take(_ count: Int) -> UnsafeMutablePointer<Float> {
        if let p = lock.withLock({ () -> UnsafeMutablePointer<Float>? in
            largest = max(largest, count)
            liveBytes += count * 4
            peakLiveBytes = max(peakLiveBytes, liveBytes)
            guard let p = free[count]?.popLast() else { return nil }
            pooledBytes -= count * 4
            return p
        }) { return p }
        var raw: UnsafeMutableRawPointer?
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else { exitOutOfMemory(bytes: bytes) }
        return raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    func give(_ p: UnsafeMutablePointer<Float>, _ count: Int) {
        let kept = lock.withLock { () -> Bool in
            liveBytes -= count * 4
            guard pooledBytes + count * 4 <= min(budgetBytes, peakLiveBytes) else { return false }
            free[count, default: []].append(p)
            pooledBytes += count * 4
            return true
        }
        if !kept { Foundation.free(p) }
    }

    /// The largest buffer (in floats) requested since the last call; lets tests prove that a kernel
    /// never allocates something of a given size.
    func takeLargestRequest() -> Int {
        lock.withLock {
            defer { largest = 0 }
            return largest
        }
    }
}

/// Ends the process with one line on standard error and exit code 1 (no crash trace): a model, batch or
/// sequence length too large for this machine's memory cannot be recovered from mid-step.
func exitOutOfMemory(bytes: Int) -> Never {
    let line = "error: out of memory allocating \(bytes / 1_048_576) MiB (resident \(processStatusBytes("VmRSS") / 1_048_576) MiB); "
        + "use a smaller model, micro-batch or seq_len, or more ranks on the model axis\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    exit(1)
}

