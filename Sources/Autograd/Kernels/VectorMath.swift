/// Eight-lane exp and tanh (Cephes single-precision algorithms), so the transcendental parts of softmax,
/// attention, cross-entropy and GELU vectorise. Accurate to a few ulp over the ranges we use.
///
/// Float <-> Int32 lane conversions are avoided (Swift lowers them lane by lane): `1.5 * 2^23` added to a
/// Float with |value| < 2^22 rounds it to an integer held in the low mantissa bits, and back.
enum VectorMath {
    static let magic: Float = 12_582_912  // 1.5 * 2^23
    static let magicBits: Int32 = 0x4B40_0000  // its bit pattern

    /// e^x; exactly 0 below -87.33 (so -inf masks give 0) and +inf above 88.38.
    @inline(__always)
    static func exp(_ input: SIMD8<Float>) -> SIMD8<Float> {
        var x = input  // clamp (replace is cheaper than `clamped` on SIMD types)
        x.replace(with: -87.33654, where: x .< -87.33654)
        x.replace(with: 88.72283, where: x .> 88.72283)
        // x = n ln2 + r, |r| <= ln2/2; n rounded through the magic-number trick (its low bits are n).
        let shifted = x * 1.44269504088896341 + magic
        let n = shifted - magic
        var r = x - n * 0.693359375
        r = r + n * 2.12194440e-4
        var p: SIMD8<Float> = SIMD8(repeating: 1.9875691500e-4)
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let r2 = r * r
        let e = p * r2 + r + 1
        // scale by 2^n through the exponent bits; n in [-126, 127] after the clamp (n = -127 -> subnormal
        // handled by splitting the scale in two).
        let ni = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- magicBits
        let half1 = ni &>> 1
        let half2 = ni &- half1
        let s1 = unsafeBitCast((half1 &+ 127) &<< 23, to: SIMD8<Float>.self)
        let s2 = unsafeBitCast((half2 &+ 127) &<< 23, to: SIMD8<Float>.self)
        var result = e * s1 * s2
        result.replace(with: 0, where: input .< -87.33654)
        result.replace(with: .infinity, where: input .> 88.72283)
        return result
    }

    /// tanh(x): an odd polynomial for |x| < 0.625, `1 - 2 / (e^{2|x|} + 1)` beyond, sign restored.
    @inline(__always)
    static func tanh(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let ax = unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x7fff_ffff, to: SIMD8<Float>.self)
        let z = x * x
        var p: SIMD8<Float> = SIMD8(repeating: -5.70498872745e-3)
        p = p * z + 2.06390887954e-2
        p = p * z - 5.37397155531e-2
        p = p * z + 1.33314422036e-1
        p = p * z - 3.33332819422e-1
        let small = p * z * x + x
        var twice = 2 * ax
        twice.replace(with: 40, where: twice .> 40)
        let e = exp(twice)
        var large = 1 - 2 / (e + 1)
        large.replace(with: -large, where: x .< 0)
        var out = large
        out.replace(with: small, where: ax .< 0.625)
        return out
    }

    /// Applies an 8-lane function to `n` elements, the tail through a zero-padded lane group.
    @inline(__always)
    static func map(
        _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int,
        _ f: (SIMD8<Float>) -> SIMD8<Float>
    ) {
        var i = 0
        while i + 8 <= n {
            store8(f(load8(src + i)), dst + i)
            i += 8
        }
        if i < n {
            var v = SIMD8<Float>()
            for j in 0..<(n - i) { v[j] = src[i + j] }
            let r = f(v)
            for j in 0..<(n - i) { dst[i + j] = r[j] }
        }
    }
}

extension VectorMath {
    /// Natural log for positive finite inputs (Cephes `logf`); 0 → -inf, negative → NaN.
    @inline(__always)
    static func log(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let bits = unsafeBitCast(x, to: SIMD8<Int32>.self)
        // x = m * 2^e with m in [0.5, 1)
        var e = unsafeBitCast(((bits &>> 23) & 0xff) &- 126 &+ magicBits, to: SIMD8<Float>.self) - magic
        var m = unsafeBitCast((bits & Int32(bitPattern: 0x807f_ffff)) | 0x3f00_0000, to: SIMD8<Float>.self)
        let belowSqrtHalf = m .< 0.707106781186547524
        e.replace(with: e - 1, where: belowSqrtHalf)
        m.replace(with: m + m - 1, where: belowSqrtHalf)
        m.replace(with: m - 1, where: .!belowSqrtHalf)
        let z = m * m
        var y: SIMD8<Float> = SIMD8(repeating: 7.0376836292e-2)
        y = y * m - 1.1514610310e-1
        y = y * m + 1.1676998740e-1
        y = y * m - 1.2420140846e-1
        y = y * m + 1.4249322787e-1
        y = y * m - 1.6668057665e-1
        y = y * m + 2.0000714765e-1
        y = y * m - 2.4999993993e-1
        y = y * m + 3.3333331174e-1
        y = y * m * z
        y = y + e * -2.12194440e-4 - 0.5 * z
        var r = m + y + e * 0.693359375
        r.replace(with: -.infinity, where: x .== 0)
        r.replace(with: .nan, where: x .< 0)
        r.replace(with: x, where: x .== .infinity)
        return r
    }

    /// 1 / (1 + e^-x).
    @inline(__always)
    static func sigmoid(_ x: SIMD8<Float>) -> SIMD8<Float> { 1 / (1 + exp(-x)) }

    /// log(sigmoid(x)) = min(x, 0) - log(1 + e^-|x|), stable for any x.
    @inline(__always)
    static func logSigmoid(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let ax = unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x7fff_ffff, to: SIMD8<Float>.self)
        var negativePart = x
        negativePart.replace(with: 0, where: x .> 0)
        return negativePart - log(1 + exp(-ax))
    }
}
