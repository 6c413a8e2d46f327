import Foundation

/// Finds, for each new MinHash signature, an earlier kept one whose estimated Jaccard similarity
/// (``MinHash/similarity(_:_:)``) reaches ``threshold``, with locality-sensitive hashing: the signature is
/// cut into ``bands`` bands of ``rows`` entries, and only signatures that agree on a whole band are
/// compared. Holds the kept signatures and their band hashes, nothing of the texts.
public struct NearDuplicateIndex {
    public let threshold: Double
    public let bands: Int, rows: Int
    /// Kept signatures back to back, `[kept * permutations]`.
    var signatures: [UInt32] = []
    /// What the caller named each kept signature (its line).
    var ids: [Int] = []
    /// A band's hash (band number mixed in) to the last entry `k * bands + band` that has it; ``earlier``
    /// chains each entry to the previous one of its bucket (-1: none), so a bucket costs no array.
    var buckets: [UInt64: Int32] = [:]
    var earlier: [Int32] = []

    public init(threshold: Double, permutations: Int = MinHash.permutations) {
        precondition(threshold > 0 && threshold <= 1, "NearDuplicateIndex: threshold must be in (0, 1]")
        self.threshold = threshold
        (bands, rows) = Self.bandsAndRows(threshold: threshold, permutations: permutations)
    }

    /// The id of the first kept signature at least ``threshold`` similar to `signature`, or nil, in which
    /// case `signature` is kept under `id`.
    public mutating func duplicate(of signature: [UInt32], id: Int) -> Int? {
        let keys = (0..<bands).map { band in
            signature[band * rows..<(band + 1) * rows].reduce(TextNormalization.mix(UInt64(band))) {
                TextNormalization.mix($0 ^ UInt64($1))
            }
        }
        var candidates = Set<Int32>()
        for key in keys {
            var entry = buckets[key] ?? -1
            while entry >= 0 {
                candidates.insert(entry / Int32(bands))
                entry = earlier[Int(entry)]
            }
        }
        let width = signature.count
        for k in candidates.sorted() {
            let start = Int(k) * width
            if MinHash.similarity(signatures[start..<start + width], signature) >= threshold { return ids[Int(k)] }
        }
        let k = Int32(ids.count)
        ids.append(id)
        signatures += signature
        for (band, key) in keys.enumerated() {
            earlier.append(buckets.updateValue(k * Int32(bands) + Int32(band), forKey: key) ?? -1)
        }
        return nil
    }

    /// The banding for `threshold`: of all `bands x rows <= permutations`, the one that minimises the
    /// area of missed pairs above the threshold (weight 0.95) plus compared pairs below it (weight 0.05),
    /// as datasketch chooses (with its weights 0.5/0.5): a pair of similarity `s` is compared with
    /// probability `1 - (1 - s^rows)^bands`. Compared pairs are then checked on the whole signature, so a
    /// missed pair costs more than a comparison. For 0.8 and 128 permutations: 16 bands of 8 rows.
    static func bandsAndRows(threshold: Double, permutations: Int) -> (bands: Int, rows: Int) {
        func area(_ range: ClosedRange<Double>, _ f: (Double) -> Double) -> Double {
            let steps = 200, h = (range.upperBound - range.lowerBound) / Double(steps)
            return (0..<steps).reduce(0) { $0 + f(range.lowerBound + (Double($1) + 0.5) * h) * h }
        }
        var best = (bands: 1, rows: permutations, error: Double.infinity)
        for b in 1...permutations {
            for r in 1...(permutations / b) {
                func p(_ s: Double) -> Double { 1 - pow(1 - pow(s, Double(r)), Double(b)) }
                let falsePositive = area(0...threshold, p), falseNegative = area(threshold...1) { 1 - p($0) }
                let error = 0.05 * falsePositive + 0.95 * falseNegative
                if error < best.error { best = (b, r, error) }
            }
        }
        return (best.bands, best.rows)
    }
}
