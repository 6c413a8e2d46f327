/// Products with a model weight `W: [N, K]` used as a `Linear` layer does, `x·Wᵀ`, where `W` is a
/// ``Weight``: a Float32 tensor, or a frozen bf16 one widened a block of rows at a time (at most
/// `blockElements`) into a pooled buffer, for the forward product of its output columns and again in
/// backward for `dX += dY[:, block] · W[block]`. A bf16 weight's Float32 copy never exceeds one block,
/// even for the 256k-row embedding as an output projection, and it gets no gradient.

/// `x·Wᵀ`: `x: [..., K]`, `w: [N, K]` → `[..., N]`; a Float32 `w` is ``matmul(_:_:transposeA:transposeB:)``
/// (its gradient recorded when it requires one).
public func linear(_ x: Tensor, _ w: Weight, blockElements: Int = bfloat16BlockElements) -> Tensor {
    guard case .bfloat16 = w else { return matmul(x, w.tensor, transposeB: true) }
    let product = LinearProduct(x, w, blockElements: blockElements)
    let out = Tensor(uninitialized: Array(x.shape.dropLast()) + [product.n])
    product.forward(x.data, into: out.data)
    return out.recorded("linear", [x]) { g in
        x.withGradBuffer { dx, acc in product.inputGradient(g.data, into: dx, accumulate: acc) }
    }
}

/// Writes a dropout mask of `[M, K]` elements (0, or `1/(1-p)` for a kept element) into its buffer; the
/// same mask every time it is called (``lowRankLinear(_:_:a:b:scale:dropout:blockElements:)`` calls it
/// again in backward rather than keeping it).
public typealias DropoutMask = (UnsafeMutablePointer<Float>) -> Void

/// A frozen projection with a low-rank adapter (LoRA) in one op, keeping only `t = u·Aᵀ` besides its
/// inputs (composed of primitive ops it would keep three more `[M, N]` tensors, and with dropout the mask
/// and `u`, which backward regenerates here):
///
///     u = x ⊙ mask (or x without dropout)               // x, u: [M, K], W: [N, K], A: [r, K], B: [N, r]
///     y = x·Wᵀ + s·(u·Aᵀ)·Bᵀ
///
/// Backward (`W` is frozen and gets no gradient):
///
///     dt = s·dY·B   [M, r]      dB = s·dYᵀ·t   [N, r]      dA = dtᵀ·u   [r, K]
///     dx = dY·W + (dt·A) ⊙ mask
public func lowRankLinear(_ x: Tensor, _ w: Weight, a: Tensor, b: Tensor, scale: Float, dropout: DropoutMask? = nil,
                          blockElements: Int = bfloat16BlockElements) -> Tensor {
    shapeCheck(w.shape.count == 2 && a.rank == 2 && b.rank == 2 && a.shape[0] == b.shape[1] && a.shape[1] == w.shape[1]
               && b.shape[0] == w.shape[0],
               "lowRankLinear: x \(x.shape), W \(w.shape), A \(a.shape), B \(b.shape)")
    if case .float32(let t) = w { precondition(!t.requiresGrad, "lowRankLinear: the adapted weight must be frozen") }
    let product = LinearProduct(x, w, blockElements: blockElements)
    let (m, n, k, r) = (product.m, product.n, product.k, a.shape[0])
    /// The adapter's input `u` and, with dropout, the mask (both `[M, K]`, made anew each call).
    func adapterInput() -> (u: Tensor, mask: Tensor?) {
        guard let dropout else { return (x, nil) }
        let mask = Tensor(uninitialized: [m, k]), u = Tensor(uninitialized: [m, k])
        defer { withExtendedLifetime((mask, u)) {} }
        dropout(mask.data)
        let (xs, ms, us) = (x.data, mask.data, u.data)
        Parallel.chunks(m * k, grain: Vector.grain) { i0, i1 in for i in i0..<i1 { us[i] = xs[i] * ms[i] } }
        return (u, mask)
    }
    let out = Tensor(uninitialized: Array(x.shape.dropLast()) + [n])  // [M, N]
    let t = Tensor(uninitialized: [m, r])                              // [M, r] = u · Aᵀ
    product.forward(x.data, into: out.data)
    let input = adapterInput()
    // Only raw pointers reach BLAS: the buffers must outlive the calls (another thread may take them
    // from the pool the moment they are released).
    withExtendedLifetime(input) { BLAS.gemm(transB: true, m: m, n: r, k: k, a: input.u.data, b: a.data, c: t.data) }
    BLAS.gemm(transB: true, m: m, n: n, k: r, alpha: scale, a: t.data, b: b.data, beta: 1, c: out.data)  // y += s·t·Bᵀ
    return out.recorded("lowRankLinear", [x, a, b]) { g in
        let dt = Tensor(uninitialized: [m, r])
        BLAS.gemm(m: m, n: r, k: n, alpha: scale, a: g.data, b: b.data, c: dt.data)  // dt = s·dY·B
        if b.requiresGrad {
            b.withGradBuffer { db, acc in BLAS.gemm(transA: true, m: n, n: r, k: m, alpha: scale, a: g.data, b: t.data, beta: acc ? 1 : 0, c: db) }
        }
        let (u, mask) = adapterInput()
        defer { withExtendedLifetime((u, mask, dt)) {} }
        if a.requiresGrad {
            a.withGradBuffer { da, acc in BLAS.gemm(transA: true, m: r, n: k, k: m, a: dt.data, b: u.data, beta: acc ? 1 : 0, c: da) }
        }
        guard x.requiresGrad else { return }
        x.withGradBuffer { dx, acc in
            product.inputGradient(g.data, into: dx, accumulate: acc)
            guard let mask else { return BLAS.gemm(m: m, n: k, k: r, a: dt.data, b: a.data, beta: 1, c: dx) }
            let du = Tensor(uninitialized: [m, k])  // dt·A, then through the mask
            defer { withExtendedLifetime(du) {} }
            BLAS.gemm(m: m, n: k, k: r, a: dt.data, b: a.data, c: du.data)
            let (ds, ms) = (du.data, mask.data)
            Parallel.chunks(m * k, grain: Vector.grain) { i0, i1 in for i in i0..<i1 { dx[i] += ds[i] * ms[i] } }
        }
    }
}

/// The most elements of a bf16 weight widened at once (16 Mi: 64 MiB).
public let bfloat16BlockElements = 16 << 20

/// `x: [M, K]` times a frozen ``Weight`` `W: [N, K]` transposed, forward and the input gradient, with
/// a bf16 weight widened by blocks of `rows` rows.
struct LinearProduct {
    let m: Int, n: Int, k: Int
    let weight: Weight
    /// Rows of W per widened block, and the blocks.
    let rows: Int
    let blocks: [Range<Int>]

    init(_ x: Tensor, _ weight: Weight, blockElements: Int) {
        let (n, k) = (weight.shape[0], weight.shape[1])
        shapeCheck(weight.shape.count == 2 && x.rank >= 2 && x.shape[x.rank - 1] == k, "linear: x \(x.shape), weight \(weight.shape)ᵀ")
        (self.n, self.k, m, self.weight) = (n, k, x.count / max(k, 1), weight)
        let rows = max(1, min(n, blockElements / max(k, 1)))
        self.rows = rows
        blocks = stride(from: 0, to: n, by: rows).map { $0..<min($0 + rows, n) }
    }

    /// `out [M, N] = x [M, K] · Wᵀ`.
    func forward(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        switch weight {
        case .float32(let w): BLAS.gemm(transB: true, m: m, n: n, k: k, a: x, b: w.data, c: out)
        case .bfloat16(let w):
            let scratch = Tensor(uninitialized: [rows, k])  // one widened block of W
            defer { withExtendedLifetime(scratch) {} }
            for block in blocks {  // out[:, block] = x · W[block]ᵀ
                w.widen(rows: block, into: scratch.data)
                BLAS.gemm(transB: true, m: m, n: block.count, k: k, a: x, b: scratch.data, c: out + block.lowerBound, ldc: n)
            }
        }
    }

    /// `dx [M, K] (+)= dY [M, N] · W`.
    func inputGradient(_ g: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>, accumulate: Bool) {
        switch weight {
        case .float32(let w): BLAS.gemm(m: m, n: k, k: n, a: g, b: w.data, beta: accumulate ? 1 : 0, c: dx)
        case .bfloat16(let w):
            let scratch = Tensor(uninitialized: [rows, k])
            defer { withExtendedLifetime(scratch) {} }
            for (i, block) in blocks.enumerated() {  // dx += dY[:, block] [M, rows] · W[block] [rows, K]
                w.widen(rows: block, into: scratch.data)
                BLAS.gemm(m: m, n: k, k: block.count, a: g + block.lowerBound, lda: n, b: scratch.data,
                          beta: accumulate || i > 0 ? 1 : 0, c: dx)
            }
        }
    }
}
