import Autograd

// Element conversions between stored dtypes and Float32: plain loops over branch-free scalar code,
// which LLVM vectorises (AVX2: ~13-15 ms per 64 M elements for BF16/F16 -> F32 and F32 -> BF16 on this
// machine, memory-bound). Swift's SIMD mask operations (`.==`, `replacing(with:where:)`) are not
// lowered to vector instructions and were 30x slower, so none are used. Sources may be unaligned: a
// safetensors data section is 8-byte aligned only when its writer padded the header, and a tensor's
// offset is a multiple of its own dtype size only by convention.

#if _endian(big)
#error("safetensors data is little-endian; these conversions assume a little-endian host")
#endif

extension SafeTensors {
    // MARK: Scalars

    /// The BF16 bits nearest to `value`, ties to even (``BFloat16/bits(_:)``).
    @inlinable @inline(__always)
    public static func bfloat16Bits(_ value: Float) -> UInt16 { BFloat16.bits(value) }

    /// The Float32 value of BF16 bits (``BFloat16/float(_:)``).
    @inlinable @inline(__always)
    public static func float(bfloat16Bits bits: UInt16) -> Float { BFloat16.float(bits) }

    /// The Float32 value of IEEE half-precision bits (exact, including subnormals, infinities and NaN
    /// payloads), branch-free (F. Giesen's `half_to_float`): move exponent and mantissa into place and
    /// rebias; infinities and NaN get the full exponent; subnormals are renormalised by one float
    /// subtraction of 2^-14.
    @inlinable @inline(__always)
    public static func float(float16Bits bits: UInt16) -> Float {
        let half = UInt32(bits)
        var single = (half & 0x7FFF) &<< 13                 // exponent and mantissa in place
        let exponent = single & 0x0F80_0000
        single &+= (127 - 15) << 23                         // rebias
        if exponent == 0x0F80_0000 { single &+= (128 - 16) << 23 }  // infinity or NaN
        if exponent == 0 {                                  // zero or subnormal
            single = (Float(bitPattern: single &+ (1 << 23)) - Float(bitPattern: 113 << 23)).bitPattern
        }
        return Float(bitPattern: single | ((half & 0x8000) &<< 16))
    }

    // MARK: Buffers

    /// Converts `count` elements of `dtype` at `source` (little-endian, any alignment) to Float32.
    /// - Precondition: `dtype.isReadableAsFloat`.
    static func convertToFloat(_ source: UnsafeRawPointer, dtype: DType, count: Int,
                               into destination: UnsafeMutablePointer<Float>) {
        switch dtype {
        case .f32:
            UnsafeMutableRawPointer(destination).copyMemory(from: source, byteCount: count * 4)
        case .bf16:
            for i in 0 ..< count {
                destination[i] = float(bfloat16Bits: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
            }
        case .f16:
            for i in 0 ..< count {
                destination[i] = float(float16Bits: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
            }
        case .f64:
            for i in 0 ..< count {
                destination[i] = Float(source.loadUnaligned(fromByteOffset: 8 * i, as: Double.self))
            }
        default:
            preconditionFailure("\(dtype.rawValue) is not convertible to Float32")
        }
    }

    /// Converts `count` Float32 values to BF16 bits (round to nearest, ties to even; see
    /// ``bfloat16Bits(_:)``), writing `2 * count` bytes at `destination` (any alignment).
    static func convertToBFloat16(_ source: UnsafePointer<Float>, count: Int, into destination: UnsafeMutableRawPointer) {
        for i in 0 ..< count {
            destination.storeBytes(of: bfloat16Bits(source[i]), toByteOffset: 2 * i, as: UInt16.self)
        }
    }
}
