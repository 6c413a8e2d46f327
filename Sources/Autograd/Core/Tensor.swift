/// A Float32, contiguous, row-major array that can take part in reverse-mode differentiation.
///
/// Legend used in shape comments throughout the library: `B` batch, `T` time (sequence), `D` hidden,
/// `H` query heads, `KV` key/value heads, `hd` head dimension, `V` vocabulary, `N` rows (`B*T`).
///
/// A tensor owns (a window of) a ``Storage``. Ops build new tensors; when gradients are being recorded
/// (see ``GradMode``) and an input has ``requiresGrad``, the op attaches a node whose backward closure sits
/// beside its forward kernel in the op's file. ``backward(seed:)`` walks those nodes in reverse.
public final class Tensor: CustomStringConvertible {
    /// Dimensions, outermost first.
    public let shape: [Int]
    /// Number of elements (`shape` product).
    public let count: Int
    let storage: Storage
    let offset: Int
    /// Whether gradients flow to this tensor. Set it on leaves (parameters); ops propagate it.
    public var requiresGrad: Bool
    /// The accumulated gradient after ``backward(seed:)``; same shape as the tensor.
    public internal(set) var grad: Tensor?
    /// The op that produced this tensor, while its backward has not yet run.
    var node: Node?

    /// An uninitialised tensor: every kernel that makes one writes all of its elements.
    init(uninitialized shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.storage = Storage(capacity: count)
        self.offset = 0
        self.requiresGrad = false
    }

    init(storage: Storage, offset: Int, shape: [Int]) {
        self.shape = shape
        self.count = shape.reduce(1, *)
        precondition(offset + count <= storage.capacity)
        self.storage = storage
        self.offset = offset
        self.requiresGrad = false
    }

    /// A tensor of zeros.
    public convenience init(zeros shape: [Int]) {
        self.init(repeating: 0, shape: shape)
    }

    /// A tensor with every element equal to `value`.
    public convenience init(repeating value: Float, shape: [Int]) {
        self.init(uninitialized: shape)
        data.update(repeating: value, count: count)
    }

    /// A tensor holding `values` (row-major) with the given shape.
    public convenience init(_ values: [Float], shape: [Int]) {
        self.init(uninitialized: shape)
        precondition(values.count == count, "Tensor(_:shape:): \(values.count) values for shape \(shape)")
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: count) }
    }

    /// Pointer to the first element. Valid while the tensor is alive.
    public var data: UnsafeMutablePointer<Float> { storage.base + offset }

    /// The elements, row-major.
    public var scalars: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }

    /// The single element of a one-element tensor.
    public var item: Float {
        precondition(count == 1, "item: tensor of shape \(shape) has \(count) elements")
        return data[0]
    }

    /// Number of dimensions.
    public var rank: Int { shape.count }

    /// A tensor sharing this one's storage, outside any graph (no node, no gradient).
    public func detached() -> Tensor { Tensor(storage: storage, offset: offset, shape: shape) }

    /// A view of `shape.product` elements starting at element `offset`, sharing this tensor's storage,
    /// outside any graph (how a flat parameter buffer hands out named parameters).
    public func window(offset: Int, shape: [Int]) -> Tensor {
        let n = shape.reduce(1, *)
        precondition(offset >= 0 && offset + n <= count, "window: \(shape) at \(offset) outside \(self.shape)")
        return Tensor(storage: storage, offset: self.offset + offset, shape: shape)
    }

    /// A fresh copy of the elements, outside any graph.
    public func copy() -> Tensor {
        let out = Tensor(uninitialized: shape)
        Vector.copy(data, to: out.data, count)
        return out
    }

    public var description: String {
        let preview = scalars.prefix(8).map { "\($0)" }.joined(separator: ", ")
        return "Tensor(\(shape), [\(preview)\(count > 8 ? ", ..." : "")])"
    }
}

/// Stops with a message naming the op and the shapes when a shape contract is broken.
@inline(__always)
func shapeCheck(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("shape error: \(message())") }
}
