/// The Levenshtein distance between two token sequences: the fewest insertions, deletions and
/// substitutions that turn one into the other (memorization's approximate match).
public func editDistance(_ a: [Int32], _ b: [Int32]) -> Int {
    guard !a.isEmpty else { return b.count }
    var previous = Array(0...b.count), current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in stride(from: 1, through: b.count, by: 1) {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}
