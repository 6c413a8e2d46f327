/// Threaded, vectorised loops over flat Float32 buffers (the building blocks of elementwise ops).
///
/// Every loop reads and writes through raw pointers (no bounds checks) in a shape LLVM turns into
/// AVX2 code, and splits across ``Parallel/threadCount`` threads above `grain` elements.
enum Vector {
    /// Elements per thread below which a loop stays on one thread.
    static let grain = 1 << 15

    /// `dst[i] = f(i)` over `0..<n`, threaded. `f` must be a pure function of the index.
    @inline(__always)
    static func generate(_ dst: UnsafeMutablePointer<Float>, _ n: Int, _ f: (Int) -> Float) {
        Parallel.chunks(n, grain: grain) { s, e in
            for i in s..<e { dst[i] = f(i) }
        }
    }

    static func copy(_ src: UnsafePointer<Float>, to dst: UnsafeMutablePointer<Float>, _ n: Int) {
        Parallel.chunks(n, grain: grain) { s, e in (dst + s).update(from: src + s, count: e - s) }
    }

    /// `dst += src`.
    static func add(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, _ n: Int) {
        Parallel.chunks(n, grain: grain) { s, e in
            for i in s..<e { dst[i] += src[i] }
        }
    }

    /// `dst = (accumulate ? dst : 0) + src`: the usual way a backward kernel writes a gradient.
    @inline(__always)
    static func store(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, _ n: Int, accumulate: Bool) {
        if accumulate { add(src, into: dst, n) } else { copy(src, to: dst, n) }
    }

    /// `x *= s`.
    static func scale(_ x: UnsafeMutablePointer<Float>, by s: Float, _ n: Int) {
        Parallel.chunks(n, grain: grain) { a, e in
            for i in a..<e { x[i] *= s }
        }
    }

    /// Sum of `x[0..<n]`, accumulated in Double.
    static func sum(_ x: UnsafePointer<Float>, _ n: Int) -> Double {
        var acc = SIMD8<Double>()
        var i = 0
        while i + 8 <= n {
            acc += SIMD8<Double>(load8(x + i))
            i += 8
        }
        var total = acc.sum()
        while i < n { total += Double(x[i]); i += 1 }
        return total
    }

    /// Largest of `x[0..<n]` (-inf when empty).
    @inline(__always)
    static func max(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>(repeating: -.infinity)
        var i = 0
        while i + 8 <= n {
            let v = load8(x + i)
            acc.replace(with: v, where: v .> acc)  // compare + blend (pointwiseMax is lowered lane by lane)
            i += 8
        }
        var m = acc.max()
        while i < n { m = Swift.max(m, x[i]); i += 1 }
        return m
    }

    /// `Σ a[i] * b[i] * c[i]` over `n` elements (Float accumulation in 8 lanes).
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>()
        var i = 0
        while i + 8 <= n {
            acc.addProduct(load8(a + i) * load8(b + i), load8(c + i))
            i += 8
        }
        var total = acc.sum()
        while i < n { total += a[i] * b[i] * c[i]; i += 1 }
        return total
    }

    /// Dot product of `a` and `b` over `n` elements (Float accumulation in 8 lanes).
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>()
        var i = 0
        while i + 8 <= n {
            acc.addProduct(load8(a + i), load8(b + i))
            i += 8
        }
        var total = acc.sum()
        while i < n { total += a[i] * b[i]; i += 1 }
        return total
    }
}

/// Loads 8 floats from any address.
@inline(__always)
func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

/// Stores 8 floats at any address.
@inline(__always)
func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}
