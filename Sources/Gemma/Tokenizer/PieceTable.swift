/// Piece bytes -> ids, looked up by a span of UTF-8 bytes without building a String (the BPE hot loop asks once
/// per candidate merge). Open addressing with linear probing over a power-of-two slot array.
///
/// Each key holds two ids, as SentencePiece keeps two maps: `normal` for NORMAL, USER_DEFINED and UNUSED pieces
/// (the only ones BPE merges into), `reserved` for CONTROL, UNKNOWN and BYTE pieces (-1 when absent).
struct PieceTable: Sendable {
    struct Entry: Sendable {
        var hash: UInt64
        var start: Int32  // offset of the key in `blob`
        var length: Int32
        var normal: Int32
        var reserved: Int32
    }

    private(set) var blob: [UInt8] = []
    private(set) var entries: [Entry] = []
    private var slots: [Int32]  // entry index or -1
    private var mask: Int
    /// The longest key with a `normal` id, in bytes: longer candidate merges are rejected without hashing.
    private(set) var maxNormalLength = 0

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
        entries.reserveCapacity(capacity)
    }

    /// Adds `id` under `key`; returns false if the key already has an id of the same kind.
    mutating func insert(_ key: [UInt8], id: Int32, normal: Bool) -> Bool {
        let h = key.withUnsafeBufferPointer { Self.hash($0.baseAddress!, $0.count) }
        var i = Int(truncatingIfNeeded: h) & mask
        while slots[i] >= 0 {
            let e = Int(slots[i])
            if entries[e].hash == h && entries[e].length == key.count
                && blob[Int(entries[e].start)..<Int(entries[e].start) + key.count].elementsEqual(key)
            {
                if normal {
                    if entries[e].normal >= 0 { return false }
                    entries[e].normal = id
                    maxNormalLength = max(maxNormalLength, key.count)
                } else {
                    if entries[e].reserved >= 0 { return false }
                    entries[e].reserved = id
                }
                return true
            }
            i = (i + 1) & mask
        }
        slots[i] = Int32(entries.count)
        entries.append(
            Entry(hash: h, start: Int32(blob.count), length: Int32(key.count),
                  normal: normal ? id : -1, reserved: normal ? -1 : id))
        blob.append(contentsOf: key)
        if normal { maxNormalLength = max(maxNormalLength, key.count) }
        if entries.count * 2 > slots.count { grow() }
        return true
    }

    /// The entry whose key equals `count` bytes at `bytes`, or nil.
    @inline(__always)
    func lookup(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> Entry? {
        let h = Self.hash(bytes, count)
        var i = Int(truncatingIfNeeded: h) & mask
        return blob.withUnsafeBufferPointer { blob in
            while true {
                let s = Int(slots[i])
                if s < 0 { return nil }
                let e = entries[s]
                if e.hash == h && Int(e.length) == count
                    && memoryEqual(blob.baseAddress! + Int(e.start), bytes, count)
                {
                    return e
                }
                i = (i + 1) & mask
            }
        }
    }

    func lookup(_ key: [UInt8]) -> Entry? {
        if key.isEmpty { return nil }
        return key.withUnsafeBufferPointer { lookup($0.baseAddress!, $0.count) }
    }

    private mutating func grow() {
        let size = slots.count * 2
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
        for (index, entry) in entries.enumerated() {
            var i = Int(truncatingIfNeeded: entry.hash) & mask
            while slots[i] >= 0 { i = (i + 1) & mask }
            slots[i] = Int32(index)
        }
    }

    /// A 64-bit hash of a byte span: 8 bytes at a time, multiply-xorshift mixing.
    @inline(__always)
    static func hash(_ p: UnsafePointer<UInt8>, _ count: Int) -> UInt64 {
        let m: UInt64 = 0x9E37_79B9_7F4A_7C15
        var h: UInt64 = 0xCBF2_9CE4_8422_2325 ^ (UInt64(count) &* m)
        var i = 0
        let raw = UnsafeRawPointer(p)
        while i + 8 <= count {
            h = (h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* m
            h ^= h >> 29
            i += 8
        }
        if i < count {
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while i < count {
                tail |= UInt64(p[i]) << shift
                shift += 8
                i += 1
            }
            h = (h ^ tail) &* m
            h ^= h >> 29
        }
        h = (h ^ (h >> 32)) &* 0xD6E8_FEB8_6659_FD93
        return h ^ (h >> 32)
    }
}

@inline(__always)
private func memoryEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ count: Int) -> Bool {
    var i = 0
    while i < count {
        if a[i] != b[i] { return false }
        i += 1
    }
    return true
}

/// Longest-prefix matching of USER_DEFINED pieces (SentencePiece's `PrefixMatcher`, a byte trie).
struct PrefixMatcher: Sendable {
    private var children: [[(byte: UInt8, node: Int32)]] = [[]]
    private var terminal: [Bool] = [false]
    private var firstBytes = [Bool](repeating: false, count: 256)

    var isEmpty: Bool { children[0].isEmpty }

    init(_ keys: [[UInt8]]) {
        for key in keys where !key.isEmpty {
            firstBytes[Int(key[0])] = true
            var node = 0
            for byte in key {
                if let next = children[node].first(where: { $0.byte == byte }) {
                    node = Int(next.node)
                } else {
                    children.append([])
                    terminal.append(false)
                    children[node].append((byte, Int32(children.count - 1)))
                    node = children.count - 1
                }
            }
            terminal[node] = true
        }
    }

    /// The length in bytes of the longest key that prefixes `p[0..<count]`, or 0.
    @inline(__always)
    func longestMatch(_ p: UnsafePointer<UInt8>, _ count: Int) -> Int {
        guard count > 0, firstBytes[Int(p[0])] else { return 0 }
        var node = 0
        var best = 0
        var i = 0
        while i < count {
            let byte = p[i]
            var next = -1
            for child in children[node] where child.byte == byte {
                next = Int(child.node)
                break
            }
            if next < 0 { break }
            node = next
            i += 1
            if terminal[node] { best = i }
        }
        return best
    }
}
