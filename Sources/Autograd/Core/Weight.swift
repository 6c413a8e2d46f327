/// A parameter as the ops that read it see it: a Float32 ``Tensor`` (trained or not), or a frozen
/// ``BFloat16Tensor`` that ``linear(_:_:blockElements:)``, ``embedding(_:_:shard:)`` and the fused output
/// losses widen to Float32 a piece at a time, for the forward product and again for the backward one.
/// Arithmetic is Float32 either way.
public enum Weight {
    case float32(Tensor)
    case bfloat16(BFloat16Tensor)

    public var shape: [Int] {
        switch self {
        case .float32(let t): t.shape
        case .bfloat16(let t): t.shape
        }
    }

    /// The Float32 tensor: the tensor itself (gradients flow into it), or a widened copy (small
    /// weights such as norms).
    public var tensor: Tensor {
        switch self {
        case .float32(let t): t
        case .bfloat16(let t): t.widened()
        }
    }

    /// Rows `range` of the first axis: a differentiable ``slice(_:axis:_:)`` of a Float32 tensor, a view
    /// of a bf16 one.
    public func rows(_ range: Range<Int>) -> Weight {
        switch self {
        case .float32(let t): .float32(slice(t, axis: 0, range))
        case .bfloat16(let t): .bfloat16(t.rows(range))
        }
    }
}
