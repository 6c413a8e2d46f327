/// The normalised forms of text that deduplication and decontamination compare, as hashes (only ASCII is
/// case-folded; other bytes compare as they are).
public enum TextNormalization {
    /// A 128-bit hash of a row's text fields: each lower-cased (ASCII) with runs of whitespace collapsed to
    /// one space and trimmed, the fields separated. Two rows with the same key are exact duplicates.
    public static func exactKey(_ fields: [[UInt8]]) -> ExactKey {
        var a: UInt64 = 0xcbf2_9ce4_8422_2325, b: UInt64 = 0x9e37_79b9_7f4a_7c15
        func add(_ byte: UInt8) {
            a = (a ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
            b = (b ^ UInt64(byte)) &* 0xff51_afd7_ed55_8ccd &+ 0x2545_f491_4f6c_dd1d
        }
        for field in fields {
            var pendingSpace = false, started = false
            for byte in field {
                if isSpace(byte) { pendingSpace = started; continue }
                if pendingSpace { add(32); pendingSpace = false }
                add(byte &- 65 < 26 ? byte | 0x20 : byte)
                started = true
            }
            add(0x1F)  // between fields
        }
        return ExactKey(a: mix(a), b: mix(b))
    }

    /// Appends the hash of each word of `text` to `hashes`: words are split at whitespace, lower-cased
    /// (ASCII) and stripped of ASCII punctuation, as GPT-3's overlap test normalises them; a word of only
    /// punctuation is dropped.
    public static func wordHashes(_ text: some Sequence<UInt8>, into hashes: inout [UInt64]) {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325, empty = true
        for byte in text {
            if isSpace(byte) {
                if !empty { hashes.append(mix(h)) }
                h = 0xcbf2_9ce4_8422_2325
                empty = true
            } else if !isPunctuation(byte) {
                h = (h ^ UInt64(byte &- 65 < 26 ? byte | 0x20 : byte)) &* 0x0000_0100_0000_01b3
                empty = false
            }
        }
        if !empty { hashes.append(mix(h)) }
    }

    /// The word hashes of `text` (``wordHashes(_:into:)``).
    public static func wordHashes(_ text: some Sequence<UInt8>) -> [UInt64] {
        var hashes: [UInt64] = []
        wordHashes(text, into: &hashes)
        return hashes
    }

    /// The splitmix64 finaliser: every input bit affects every output bit.
    @inline(__always)
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9e37_79b9_7f4a_7c15
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// ASCII whitespace: space, tab, line feed, vertical tab, form feed, carriage return.
    @inline(__always)
    static func isSpace(_ b: UInt8) -> Bool { b == 32 || (9...13).contains(b) }

    /// ASCII punctuation and symbols (`!"#$%&'()*+,-./:;<=>?@[\]^_` and backquote, braces, `|`, `~`).
    @inline(__always)
    static func isPunctuation(_ b: UInt8) -> Bool {
        (33...47).contains(b) || (58...64).contains(b) || (91...96).contains(b) || (123...126).contains(b)
    }
}

/// ``TextNormalization/exactKey(_:)``: two 64-bit hashes of the normalised text.
public struct ExactKey: Hashable, Sendable {
    let a: UInt64, b: UInt64
}
