import COpenBLAS

/// Matrix products through OpenBLAS `cblas_sgemm` (row-major). The only place that calls BLAS.
enum BLAS {
    /// Sets OpenBLAS's thread count once, from ``Parallel/threadCount``.
    static let configured: Void = { openblas_set_num_threads(Int32(Parallel.threadCount)) }()

    /// Runs `body` with OpenBLAS on one thread, for kernels that split their own work across threads
    /// and call sgemm from each (concurrent calls on one OpenBLAS thread each are safe). Not reentrant.
    static func singleThreaded(_ body: () -> Void) {
        _ = configured
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(Int32(Parallel.threadCount)) }
        body()
    }

    /// `C = alpha * op(A) op(B) + beta * C`, with `op(A): [m, k]`, `op(B): [k, n]`, `C: [m, n]`.
    /// Leading dimensions default to dense rows; pass them to address sub-matrices in place.
    /// With `beta == 0`, C may be uninitialised.
    static func gemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int? = nil, b: UnsafePointer<Float>, ldb: Int? = nil,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int? = nil
    ) {
        _ = configured
        guard m > 0, n > 0 else { return }
        if k == 0 {  // empty product: C = beta * C (C may be uninitialised when beta == 0)
            for i in 0..<m {
                let row = c + i * (ldc ?? n)
                if beta == 0 { row.update(repeating: 0, count: n) } else { Vector.scale(row, by: beta, n) }
            }
            return
        }
        cblas_sgemm(
            gt_cblas_row_major(), transA ? gt_cblas_trans() : gt_cblas_no_trans(),
            transB ? gt_cblas_trans() : gt_cblas_no_trans(),
            Int32(m), Int32(n), Int32(k), alpha,
            a, Int32(lda ?? (transA ? m : k)), b, Int32(ldb ?? (transB ? k : n)),
            beta, c, Int32(ldc ?? n))
    }
}
