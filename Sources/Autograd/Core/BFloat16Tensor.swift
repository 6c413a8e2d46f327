/// A tensor held as bfloat16 and never trained: a frozen base weight of a LoRA run with
/// `model.frozen_dtype: bf16`. It has half the bytes of a Float32 ``Tensor``; ops that read it widen the
/// part they need into a Float32 buffer of the ``BufferPool`` for the product and let it go (see
/// ``Weight``), so a model of such tensors never holds a Float32 copy of itself.
public struct BFloat16Tensor {
    public let shape: [Int]
    public let count: Int
    /// The first element's bits (row-major).
    public let bits: UnsafeMutablePointer<UInt16>
    /// Keeps the buffer `bits` points into alive.
    private let owner: BFloat16Buffer

    /// The `shape` tensor starting at element `offset` of `buffer`.
    public init(_ buffer: BFloat16Buffer, offset: Int, shape: [Int]) {
        let n = shape.reduce(1, *)
        precondition(offset >= 0 && offset + n <= buffer.count, "BFloat16Tensor: \(shape) at \(offset) outside a buffer of \(buffer.count)")
        (self.shape, count, bits, owner) = (shape, n, buffer.base + offset, buffer)
    }

    /// Rows `range` of the first axis (a view).
    public func rows(_ range: Range<Int>) -> BFloat16Tensor {
        precondition(range.lowerBound >= 0 && range.upperBound <= shape[0], "BFloat16Tensor.rows: \(range) of \(shape)")
        let row = count / max(shape[0], 1)
        return BFloat16Tensor(owner, offset: (bits - owner.base) + range.lowerBound * row, shape: [range.count] + shape.dropFirst())
    }

    /// The Float32 values of rows `range` of the first axis, written to `destination` (`range.count` rows).
    public func widen(rows range: Range<Int>, into destination: UnsafeMutablePointer<Float>) {
        let row = count / max(shape[0], 1)
        BFloat16.widen(bits + range.lowerBound * row, count: range.count * row, into: destination)
    }

    /// A Float32 copy outside any graph (small tensors such as norm weights, or one tensor read out whole).
    public func widened() -> Tensor {
        let out = Tensor(uninitialized: shape)
        BFloat16.widen(bits, count: count, into: out.data)
        return out
    }
}

/// An owned, zero-initialised buffer of bfloat16 bits: the storage of a model's frozen bf16 tensors.
public final class BFloat16Buffer: @unchecked Sendable {
    public let base: UnsafeMutablePointer<UInt16>
    public let count: Int

    public init(count: Int) {
        self.count = count
        base = .allocate(capacity: max(count, 1))
        base.initialize(repeating: 0, count: max(count, 1))
    }

    deinit { base.deallocate() }
}
