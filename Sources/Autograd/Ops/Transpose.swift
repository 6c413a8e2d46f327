/// Swaps two axes, copying into a new contiguous tensor. With the axes `a < b` the tensor is viewed as
/// `[pre, A, mid, B, post]` and becomes `[pre, B, mid, A, post]`; backward swaps `g` back.
public func transpose(_ x: Tensor, _ axis0: Int, _ axis1: Int) -> Tensor {
    let a0 = normalizedAxis(axis0, x.rank, "transpose", x.shape)
    let a1 = normalizedAxis(axis1, x.rank, "transpose", x.shape)
    let (a, b) = (min(a0, a1), max(a0, a1))
    var shape = x.shape
    shape.swapAt(a, b)
    let swap = AxisSwap(shape: x.shape, a: a, b: b)
    let out = Tensor(uninitialized: shape)
    swap.apply(x.data, out.data, accumulate: false)
    return out.recorded("transpose", [x]) { g in
        // The swap is its own inverse once the roles of the two sizes are exchanged.
        let back = AxisSwap(shape: shape, a: a, b: b)
        x.withGradBuffer { dx, acc in back.apply(g.data, dx, accumulate: acc) }
    }
}

/// The index arithmetic of swapping axes `a < b` of a contiguous tensor of `shape`.
struct AxisSwap {
    let pre: Int, sizeA: Int, mid: Int, sizeB: Int, post: Int

    init(shape: [Int], a: Int, b: Int) {
        pre = shape[..<a].reduce(1, *)
        sizeA = shape[a]
        mid = shape[(a + 1)..<b].reduce(1, *)
        sizeB = shape[b]
        post = shape[(b + 1)...].reduce(1, *)
    }

    /// `dst[p, j, m, i, :] (+)= src[p, i, m, j, :]` for `i < sizeA`, `j < sizeB`.
    func apply(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, accumulate: Bool) {
        let (sizeA, mid, sizeB, post) = (sizeA, mid, sizeB, post)
        Parallel.chunks(pre * sizeB, grain: max(1, Vector.grain / max(sizeA * mid * post, 1))) { r0, r1 in
            for r in r0..<r1 {
                let (p, j) = (r / sizeB, r % sizeB)
                for m in 0..<mid {
                    for i in 0..<sizeA {
                        let s = src + (((p * sizeA + i) * mid + m) * sizeB + j) * post
                        let d = dst + (((p * sizeB + j) * mid + m) * sizeA + i) * post
                        for e in 0..<post { d[e] = (accumulate ? d[e] : 0) + s[e] }
                    }
                }
            }
        }
    }
}
