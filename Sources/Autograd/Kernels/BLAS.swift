import COpenBLAS

/// Matrix products through OpenBLAS `cblas_sgemm` (row-major). The only place that calls BLAS.
///
/// OpenBLAS itself runs on one thread; ``gemm(transA:transB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)``
/// splits a product into ``Parallel/threadCount`` blocks of rows (or columns) of C, one single-threaded
/// sgemm each, on the same threads as every other kernel. OpenBLAS's own pool would keep its threads
/// spinning after each call while our elementwise kernels need the cores (Docs/Performance.md).
public enum BLAS {
    /// Sets OpenBLAS to one thread, once.
    static let configured: Void = { openblas_set_num_threads(1) }()

    /// Whether ``gemm`` may split across threads (false inside ``singleThreaded(_:)``).
    nonisolated(unsafe) private static var splits = true

    /// Runs `body` with every sgemm on the calling thread, for kernels that split their own work across
    /// threads and call sgemm from each. Call from one thread at a time; not reentrant.
    static func singleThreaded(_ body: () -> Void) {
        splits = false
        defer { splits = true }
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
        let (lda, ldb, ldc) = (lda ?? (transA ? m : k), ldb ?? (transB ? k : n), ldc ?? n)
        func sgemm(_ rows: Range<Int>, _ cols: Range<Int>) {
            // C[rows, cols] = op(A)[rows, :] · op(B)[:, cols]
            let a = transA ? a + rows.lowerBound : a + rows.lowerBound * lda
            let b = transB ? b + cols.lowerBound * ldb : b + cols.lowerBound
            cblas_sgemm(
                gt_cblas_row_major(), transA ? gt_cblas_trans() : gt_cblas_no_trans(),
                transB ? gt_cblas_trans() : gt_cblas_no_trans(),
                Int32(rows.count), Int32(cols.count), Int32(k), alpha, a, Int32(lda), b, Int32(ldb),
                beta, c + rows.lowerBound * ldc + cols.lowerBound, Int32(ldc))
        }
        let blocks = splits ? min(Parallel.threadCount, m * n * k / minimumWork + 1) : 1
        guard blocks > 1 else { return sgemm(0..<m, 0..<n) }
        // Split the longer side of C, in multiples of 16 so each block keeps whole kernel panels.
        let byRows = m >= n
        let side = byRows ? m : n
        Parallel.chunks(blocks, grain: 1) { p0, p1 in
            for p in p0..<p1 {
                let lo = min(side, (side * p / blocks + 15) / 16 * 16), hi = p == blocks - 1 ? side : min(side, (side * (p + 1) / blocks + 15) / 16 * 16)
                guard lo < hi else { continue }
                if byRows { sgemm(lo..<hi, 0..<n) } else { sgemm(0..<m, lo..<hi) }
            }
        }
    }

    /// Multiply-adds below which a product stays on one thread.
    static let minimumWork = 1 << 18
}

extension BLAS {
    /// The reference for "fraction of peak" figures: OpenBLAS's own multithreaded `cblas_sgemm` (its
    /// thread pool, ``Parallel/threadCount`` threads) on square products of 1024, 1536 and 2048, best
    /// GFLOP/s of the median of `repeats` runs per size. Independent of how ``gemm`` splits work.
    public static func referencePeakGFLOPS(repeats: Int = 5) -> Double {
        _ = configured
        openblas_set_num_threads(Int32(Parallel.threadCount))
        defer { openblas_set_num_threads(1) }
        var best = 0.0
        for n in [1024, 1536, 2048] {
            let a = Tensor(repeating: 0.5, shape: [n, n]), b = Tensor(repeating: 0.25, shape: [n, n])
            let c = Tensor(uninitialized: [n, n])
            var times: [Double] = []
            for _ in 0..<(repeats + 1) {
                let start = ContinuousClock.now
                cblas_sgemm(gt_cblas_row_major(), gt_cblas_no_trans(), gt_cblas_no_trans(), Int32(n), Int32(n), Int32(n),
                            1, a.data, Int32(n), b.data, Int32(n), 0, c.data, Int32(n))
                let (s, atto) = (ContinuousClock.now - start).components
                times.append(Double(s) + Double(atto) * 1e-18)
            }
            let median = times.dropFirst().sorted()[repeats / 2]
            best = max(best, 2 * Double(n * n * n) / median / 1e9)
        }
        return best
    }
}
