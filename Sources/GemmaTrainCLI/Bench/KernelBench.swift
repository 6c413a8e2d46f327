import Autograd
import Foundation

/// Times kernels forward and backward. Each case builds its inputs once, then runs
/// `warmup + repeats` iterations of forward (recording the tape) and backward (from a fixed seed);
/// the medians are reported.
struct KernelBench {
    let repeats: Int
    let warmup = 2

    /// What one case computes, for FLOP/s and bandwidth figures.
    struct Work {
        var forwardFlops: Double
        var backwardFlops: Double
        /// Bytes read and written forward + backward (for memory-bound kernels), 0 when not reported.
        var bytes: Double = 0
        var usesMatmul: Bool
    }

    struct Case {
        let name: String
        let shape: String
        let flops: Work
        /// Builds the inputs and returns the forward closure.
        let make: () -> (inputs: [Tensor], forward: () -> Tensor)
        /// Times the case's underlying matrix products alone (forward, backward) in ms, measured before
        /// the case itself so the comparison starts from the same process state.
        var matmulsAlone: ((KernelBench) -> (forwardMs: Double, backwardMs: Double))? = nil
    }

    struct Measurement {
        var forwardMs: Double
        var backwardMs: Double
        var gflops: Double
        var extra: [(String, JSONValue)] = []
    }

    /// Square sgemm GFLOP/s, best over sizes 1024, 1536 and 2048 (same thread count as the kernels).
    /// OpenBLAS's own multithreaded sgemm on square products: the reference every figure is a
    /// fraction of.
    func sgemmPeak() -> Double { BLAS.referencePeakGFLOPS(repeats: repeats) }

    func measure(_ c: Case) -> Measurement {
        let reference = c.matmulsAlone?(self)
        let (inputs, forward) = c.make()
        var fwd: [Double] = [], bwd: [Double] = []
        let seed = withNoGrad(forward).shape
        let seedTensor = Tensor(repeating: 1e-3, shape: seed)
        for i in 0..<(warmup + repeats) {
            for x in inputs { x.zeroGrad() }
            let t0 = ContinuousClock.now
            let y = forward()
            let t1 = ContinuousClock.now
            y.backward(seed: seedTensor)
            let t2 = ContinuousClock.now
            if i >= warmup {
                fwd.append((t1 - t0).milliseconds)
                bwd.append((t2 - t1).milliseconds)
            }
        }
        let (f, b) = (median(fwd), median(bwd))
        var m = Measurement(forwardMs: f, backwardMs: b,
                            gflops: (c.flops.forwardFlops + c.flops.backwardFlops) / ((f + b) * 1e6))
        if c.flops.bytes > 0 { m.extra.append(("gbytes_per_s", .number(c.flops.bytes / ((f + b) * 1e6)))) }
        if let reference {
            m.extra += [("matmul_fwd_ms", .number(reference.forwardMs)), ("matmul_bwd_ms", .number(reference.backwardMs)),
                        ("ratio_to_matmuls", .number((f + b) / (reference.forwardMs + reference.backwardMs)))]
        }
        return m
    }

    /// Median wall time of `body` in milliseconds, after warm-up.
    func medianMs(_ body: () -> Void) -> Double {
        var times: [Double] = []
        for i in 0..<(warmup + repeats) {
            let t0 = ContinuousClock.now
            body()
            if i >= warmup { times.append((ContinuousClock.now - t0).milliseconds) }
        }
        return median(times)
    }
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.isEmpty ? .nan : s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// A tensor of uniform values in [-scale, scale) from a fixed-seed generator, requiring gradients.
func random(_ shape: [Int], scale: Float = 1, seed: UInt64 = 1) -> Tensor {
    var state = seed
    let n = shape.reduce(1, *)
    var values = [Float](repeating: 0, count: n)
    for i in 0..<n {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        values[i] = scale * (Float(state >> 40) / Float(1 << 24) * 2 - 1)
    }
    let t = Tensor(values, shape: shape)
    t.requiresGrad = true
    return t
}

extension Duration {
    var milliseconds: Double {
        let (s, atto) = components
        return Double(s) * 1e3 + Double(atto) * 1e-15
    }
}
