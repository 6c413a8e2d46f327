/// The rows of a run, produced by index: an array of rows already built, or rows cut on demand from a
/// prepared token directory (``PreparedRows``), so that a corpus larger than memory can be trained on.
/// `row(at:)` must be a pure function of the index (resume and every rank rely on it).
public protocol RowSource<Row> {
    associatedtype Row
    /// The number of rows; indices are `0..<count`.
    var count: Int { get }
    /// The row at `index` (`0..<count`).
    func row(at index: Int) -> Row
}

extension Array: RowSource {
    public func row(at index: Int) -> Element { self[index] }
}
