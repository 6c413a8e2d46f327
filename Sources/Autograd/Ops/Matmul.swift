/// Matrix product `op(a) · op(b)` through OpenBLAS sgemm, where `op` transposes when asked.
///
/// - `a: [..., M, K]` (leading dimensions fold into rows), or `[K, M]` with `transposeA` (2-D only).
/// - `b: [K, N]`, or `[N, K]` with `transposeB` (an HF `Linear` weight `[out, in]` is used as `x · Wᵀ`).
/// - Returns `[..., M, N]`.
///
/// Backward (`C = op(A) op(B)`): `d op(A) = dC · op(B)ᵀ`, `d op(B) = op(A)ᵀ · dC`, each written straight
/// into the gradient buffer by one sgemm (`beta = 1` when a gradient is already there).
public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    shapeCheck(b.rank == 2, "matmul: b must be 2-D, got a \(a.shape), b \(b.shape)")
    shapeCheck(a.rank >= 2 && (!transposeA || a.rank == 2),
               "matmul: a must be 2-D when transposed (or >= 2-D), got a \(a.shape), b \(b.shape)")
    let k = transposeA ? a.shape[0] : a.shape[a.rank - 1]
    let m = transposeA ? a.shape[1] : a.count / max(k, 1)
    let (kb, n) = transposeB ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
    shapeCheck(k == kb, "matmul: inner dimensions differ, a \(a.shape)\(transposeA ? "ᵀ" : ""), b \(b.shape)\(transposeB ? "ᵀ" : "")")
    let product = MatmulShape(m: m, n: n, k: k, transA: transposeA, transB: transposeB)
    let out = Tensor(uninitialized: transposeA ? [m, n] : Array(a.shape.dropLast()) + [n])
    product.forward(a.data, b.data, out.data)
    return out.recorded("matmul", [a, b]) { g in
        if a.requiresGrad { a.withGradBuffer { da, acc in product.gradA(g.data, b.data, da, accumulate: acc) } }
        if b.requiresGrad { b.withGradBuffer { db, acc in product.gradB(g.data, a.data, db, accumulate: acc) } }
    }
}

/// Batched matrix product: `a: [Bt, M, K]` (`[Bt, K, M]` with `transposeA`), `b: [Bt, K, N]`
/// (`[Bt, N, K]` with `transposeB`) → `[Bt, M, N]`, one sgemm per batch entry, forward and backward.
public func batchedMatmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    shapeCheck(a.rank == 3 && b.rank == 3 && a.shape[0] == b.shape[0],
               "batchedMatmul: need [Bt, _, _] operands with equal Bt, got a \(a.shape), b \(b.shape)")
    let batch = a.shape[0]
    let (m, k) = transposeA ? (a.shape[2], a.shape[1]) : (a.shape[1], a.shape[2])
    let (kb, n) = transposeB ? (b.shape[2], b.shape[1]) : (b.shape[1], b.shape[2])
    shapeCheck(k == kb, "batchedMatmul: inner dimensions differ, a \(a.shape)\(transposeA ? "ᵀ" : ""), b \(b.shape)\(transposeB ? "ᵀ" : "")")
    let product = MatmulShape(m: m, n: n, k: k, transA: transposeA, transB: transposeB)
    let out = Tensor(uninitialized: [batch, m, n])
    for i in 0..<batch { product.forward(a.data + i * m * k, b.data + i * k * n, out.data + i * m * n) }
    return out.recorded("batchedMatmul", [a, b]) { g in
        if a.requiresGrad {
            a.withGradBuffer { da, acc in
                for i in 0..<batch {
                    product.gradA(g.data + i * m * n, b.data + i * k * n, da + i * m * k, accumulate: acc)
                }
            }
        }
        if b.requiresGrad {
            b.withGradBuffer { db, acc in
                for i in 0..<batch {
                    product.gradB(g.data + i * m * n, a.data + i * m * k, db + i * k * n, accumulate: acc)
                }
            }
        }
    }
}

/// One product `C: [M, N] = op(A): [M, K] · op(B): [K, N]` on dense matrices, with its two gradients.
struct MatmulShape {
    let m: Int, n: Int, k: Int
    let transA: Bool, transB: Bool

    func forward(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>) {
        BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, a: a, b: b, c: c)
    }

    /// `dA` from `dC: [M, N]` and `B`, overwritten or accumulated.
    func gradA(_ dc: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ da: UnsafeMutablePointer<Float>, accumulate: Bool) {
        let beta: Float = accumulate ? 1 : 0
        if !transA {  // dA: [M, K] = dC: [M, N] · op(B)ᵀ: [N, K]
            BLAS.gemm(transB: !transB, m: m, n: k, k: n, a: dc, b: b, beta: beta, c: da)
        } else {  // dA: [K, M] = op(B): [K, N] · dCᵀ: [N, M]
            BLAS.gemm(transA: transB, transB: true, m: k, n: m, k: n, a: b, b: dc, beta: beta, c: da)
        }
    }

    /// `dB` from `dC: [M, N]` and `A`, overwritten or accumulated.
    func gradB(_ dc: UnsafePointer<Float>, _ a: UnsafePointer<Float>, _ db: UnsafeMutablePointer<Float>, accumulate: Bool) {
        let beta: Float = accumulate ? 1 : 0
        if !transB {  // dB: [K, N] = op(A)ᵀ: [K, M] · dC: [M, N]
            BLAS.gemm(transA: !transA, m: k, n: n, k: m, a: a, b: dc, beta: beta, c: db)
        } else {  // dB: [N, K] = dCᵀ: [N, M] · op(A): [M, K]
            BLAS.gemm(transA: true, transB: transA, m: n, n: k, k: m, a: dc, b: a, beta: beta, c: db)
        }
    }
}
