import Foundation

/// A 64-byte aligned Float32 buffer. Buffers come from and go back to ``BufferPool`` so a training
/// step that allocates the same sizes as the previous one touches no fresh pages.
final class Storage: @unchecked Sendable {
    /// First element; valid for `capacity` floats.
    let base: UnsafeMutablePointer<Float>
    let capacity: Int

    /// Uninitialised storage for `capacity` floats (callers write every element before reading).
    init(capacity: Int) {
        self.capacity = capacity
        self.base = BufferPool.shared.take(capacity)
    }

    deinit { BufferPool.shared.give(base, capacity) }
}

/// Recycles freed buffers by exact size, up to a byte budget.
///
/// Training repeats the same shapes every step, so exact-size reuse hits almost always; it avoids the
/// page faults of `mmap`-backed large allocations that otherwise cost more than many kernels.
final class BufferPool: @unchecked Sendable {  // state guarded by `lock`
    static let shared = BufferPool(budgetBytes: 8 << 30)

    private let lock = NSLock()
    private var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
    private var pooledBytes = 0
    private var largest = 0
    private let budgetBytes: Int

    init(budgetBytes: Int) { self.budgetBytes = budgetBytes }

    func take(_ count: Int) -> UnsafeMutablePointer<Float> {
        if let p = lock.withLock({ () -> UnsafeMutablePointer<Float>? in
            largest = max(largest, count)
            guard let p = free[count]?.popLast() else { return nil }
            pooledBytes -= count * 4
            return p
        }) { return p }
        var raw: UnsafeMutableRawPointer?
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
            fatalError("out of memory allocating \(bytes) bytes")
        }
        return raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    func give(_ p: UnsafeMutablePointer<Float>, _ count: Int) {
        let kept = lock.withLock { () -> Bool in
            guard pooledBytes + count * 4 <= budgetBytes else { return false }
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

    /// Returns every pooled buffer to the system.
    func trim() {
        let all = lock.withLock { () -> [UnsafeMutablePointer<Float>] in
            defer { free = [:]; pooledBytes = 0 }
            return free.values.flatMap { $0 }
        }
        for p in all { Foundation.free(p) }
    }
}
