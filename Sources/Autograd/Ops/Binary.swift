/// Elementwise `+ - * /` of two tensors with broadcasting over leading dimensions: the shorter shape
/// must be a suffix of the longer one (`[B, T, D] + [D]`, `[N, D] * [N, D]`), and it repeats over the
/// longer one's leading dimensions. The broadcast side's gradient sums over those dimensions.

public func + (a: Tensor, b: Tensor) -> Tensor { binary(.add, a, b) }
public func - (a: Tensor, b: Tensor) -> Tensor { binary(.sub, a, b) }
public func * (a: Tensor, b: Tensor) -> Tensor { binary(.mul, a, b) }
public func / (a: Tensor, b: Tensor) -> Tensor { binary(.div, a, b) }

enum BinaryOp: String { case add, sub, mul, div }

func binary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor) -> Tensor {
    let aIsBig = a.rank >= b.rank
    let big = aIsBig ? a : b, small = aIsBig ? b : a
    shapeCheck(Array(big.shape.suffix(small.rank)) == small.shape,
               "\(op.rawValue): shapes \(a.shape) and \(b.shape) do not broadcast (one must be a suffix of the other)")
    let layout = Broadcast(cols: small.count, rows: small.count == 0 ? 0 : big.count / small.count,
                           aIsFull: aIsBig, bIsFull: !aIsBig || a.shape == b.shape)
    let out = Tensor(uninitialized: big.shape)
    let (pa, pb) = (UnsafePointer(a.data), UnsafePointer(b.data))
    switch op {
    case .add: layout.forEach(out.data) { ia, ib in pa[ia] + pb[ib] }
    case .sub: layout.forEach(out.data) { ia, ib in pa[ia] - pb[ib] }
    case .mul: layout.forEach(out.data) { ia, ib in pa[ia] * pb[ib] }
    case .div: layout.forEach(out.data) { ia, ib in pa[ia] / pb[ib] }
    }
    return out.recorded(op.rawValue, [a, b]) { g in
        let g = UnsafePointer(g.data)
        if a.requiresGrad {
            switch op {
            case .add, .sub: layout.gradient(a, isA: true) { i, _, _ in g[i] }
            case .mul: layout.gradient(a, isA: true) { i, _, ib in g[i] * pb[ib] }
            case .div: layout.gradient(a, isA: true) { i, _, ib in g[i] / pb[ib] }
            }
        }
        if b.requiresGrad {
            switch op {
            case .add: layout.gradient(b, isA: false) { i, _, _ in g[i] }
            case .sub: layout.gradient(b, isA: false) { i, _, _ in -g[i] }
            case .mul: layout.gradient(b, isA: false) { i, ia, _ in g[i] * pa[ia] }
            case .div: layout.gradient(b, isA: false) { i, ia, ib in -g[i] * pa[ia] / (pb[ib] * pb[ib]) }
            }
        }
    }
}

/// How two operands map onto an output of `rows x cols` elements: a full operand is indexed by the
/// flat output index, a broadcast one by the column only.
struct Broadcast {
    let cols: Int, rows: Int
    let aIsFull: Bool, bIsFull: Bool

    /// `out[i] = f(index in a, index in b)` over all elements, threaded over rows.
    @inline(__always)
    func forEach(_ out: UnsafeMutablePointer<Float>, _ f: (Int, Int) -> Float) {
        let (cols, aFull, bFull) = (cols, aIsFull, bIsFull)
        Parallel.chunks(rows, grain: max(1, Vector.grain / max(cols, 1))) { r0, r1 in
            for r in r0..<r1 {
                let base = r * cols
                for c in 0..<cols {
                    out[base + c] = f(aFull ? base + c : c, bFull ? base + c : c)
                }
            }
        }
    }

    /// Adds `Σ_rows f(i, ia, ib)` (broadcast operand) or `f(i, ia, ib)` (full operand) into `t.grad`.
    @inline(__always)
    func gradient(_ t: Tensor, isA: Bool, _ f: (Int, Int, Int) -> Float) {
        let full = isA ? aIsFull : bIsFull
        let (cols, rows, aFull, bFull) = (cols, rows, aIsFull, bIsFull)
        t.withGradBuffer { dst, accumulate in
            if full {
                Parallel.chunks(rows, grain: max(1, Vector.grain / max(cols, 1))) { r0, r1 in
                    for r in r0..<r1 {
                        let base = r * cols
                        for c in 0..<cols {
                            let v = f(base + c, aFull ? base + c : c, bFull ? base + c : c)
                            dst[base + c] = accumulate ? dst[base + c] + v : v
                        }
                    }
                }
            } else {
                if !accumulate { dst.update(repeating: 0, count: cols) }
                for r in 0..<rows {
                    let base = r * cols
                    for c in 0..<cols { dst[c] += f(base + c, aFull ? base + c : c, bFull ? base + c : c) }
                }
            }
        }
    }
}
