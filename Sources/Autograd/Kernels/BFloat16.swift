/// bfloat16 (the top 16 bits of a Float32) conversions: the scalar rules and the buffer loops that a
/// frozen bf16 weight (``BFloat16Tensor``) and the safetensors reader and writer use. The loops are
/// branch-free scalar code that LLVM vectorises, split over threads for large buffers.
public enum BFloat16 {
    /// The bf16 bits nearest to `value`, ties to even (as PyTorch's `c10::BFloat16`); NaN becomes the
    /// quiet NaN `0x7FC0`, infinities stay infinite, and values past the largest bf16 round to infinity.
    ///
    /// For example `1 + 2^-8` (exactly halfway between the bf16 neighbours 1 and `1 + 2^-7`) rounds to
    /// the even one, 1 (`0x3F80`); `1 + 3·2^-8` rounds up to `1 + 2^-6` (`0x3F82`).
    @inlinable @inline(__always)
    public static func bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        let rounded = UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits &>> 16) & 1)) &>> 16)
        return (bits & 0x7FFF_FFFF) > 0x7F80_0000 ? 0x7FC0 : rounded
    }

    /// The Float32 value of bf16 bits (exact: bf16 is the top half of a Float32).
    @inlinable @inline(__always)
    public static func float(_ bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// `destination[i] = float(source[i])` for `i` in `0..<count`, threaded when large.
    public static func widen(_ source: UnsafePointer<UInt16>, count: Int, into destination: UnsafeMutablePointer<Float>) {
        Parallel.chunks(count, grain: 1 << 18) { start, end in
            for i in start..<end { destination[i] = float(source[i]) }
        }
    }

    /// `destination[i] = bits(source[i])` for `i` in `0..<count` (round to nearest, ties to even).
    public static func round(_ source: UnsafePointer<Float>, count: Int, into destination: UnsafeMutablePointer<UInt16>) {
        Parallel.chunks(count, grain: 1 << 18) { start, end in
            for i in start..<end { destination[i] = bits(source[i]) }
        }
    }
}
