import Autograd

/// The benchmark model's shapes (Configs/bench: hidden 512, intermediate 2048, vocab 8192, 8 heads,
/// 1 kv head, head_dim 64, batch 8 x 256 tokens).
extension KernelBench {
    static var cases: [Case] { [
        matmulCase(m: 2048, k: 512, n: 2048, hfLayout: false),
        matmulCase(m: 2048, k: 2048, n: 512, hfLayout: false),
        matmulCase(m: 2048, k: 512, n: 2048, hfLayout: true),
        matmulCase(m: 2048, k: 2048, n: 512, hfLayout: true),
        crossEntropyCase(n: 2048, d: 512, vocab: 8192),
        attentionCase(b: 8, t: 256, heads: 8, kvHeads: 1, headDim: 64),
        rmsNormCase(n: 2048, d: 512),
        gegluCase(n: 2048, f: 2048),
    ] }

    /// `x: [M, K]` times a weight `[K, N]`, or `[N, K]` used transposed as Hugging Face stores `Linear`.
    static func matmulCase(m: Int, k: Int, n: Int, hfLayout: Bool) -> Case {
        let flops = 2.0 * Double(m * n * k)
        return Case(
            name: hfLayout ? "linear" : "matmul",
            shape: hfLayout ? "x[\(m),\(k)]·W[\(n),\(k)]ᵀ" : "x[\(m),\(k)]·W[\(k),\(n)]",
            flops: Work(forwardFlops: flops, backwardFlops: 2 * flops, usesMatmul: true)
        ) {
            let x = random([m, k]), w = random(hfLayout ? [n, k] : [k, n], scale: 0.05, seed: 2)
            return ([x, w], { matmul(x, w, transposeB: hfLayout) })
        }
    }

    /// Fused output projection + cross-entropy. FLOPs count the three products (logits, dHidden,
    /// dWeight), not the logits recomputed in backward.
    static func crossEntropyCase(n: Int, d: Int, vocab: Int) -> Case {
        let product = 2.0 * Double(n * d * vocab)
        return Case(
            name: "cross_entropy", shape: "h[\(n),\(d)]·E[\(vocab),\(d)]ᵀ",
            flops: Work(forwardFlops: product, backwardFlops: 2 * product, usesMatmul: true)
        ) {
            let h = random([n, d]), e = random([vocab, d], scale: 0.05, seed: 2)
            let targets = (0..<n).map { Int32(($0 * 7919) % vocab) }
            return ([h, e], { crossEntropy(hidden: h, weight: e, targets: targets).loss })
        }
    }

    /// Causal attention. FLOPs: forward `QKᵀ` and `PV`, backward `dV, dP, dQ, dK`, each `2 T² hd` per
    /// head, halved for the causal triangle. `matmul_ms` times those six products as plain sgemm over
    /// the full `T x T` square (stacked heads, as the fused kernel lays them out).
    static func attentionCase(b: Int, t: Int, heads: Int, kvHeads: Int, headDim: Int) -> Case {
        let perProduct = 2.0 * Double(b * heads * t * t * headDim) * 0.5
        return Case(
            name: "attention", shape: "B=\(b) T=\(t) H=\(heads) KV=\(kvHeads) hd=\(headDim)",
            flops: Work(forwardFlops: 2 * perProduct, backwardFlops: 4 * perProduct, usesMatmul: true),
            make: {
                let q = random([b, t, heads, headDim]), k = random([b, t, kvHeads, headDim], seed: 2)
                let v = random([b, t, kvHeads, headDim], seed: 3)
                return ([q, k, v], { causalAttention(q: q, k: k, v: v) })
            },
            matmulsAlone: { bench in
                let rows = t * heads / kvHeads  // stacked query rows per (b, kv head)
                let (q, k, v) = (random([rows, headDim]), random([t, headDim], seed: 2), random([t, headDim], seed: 3))
                let (p, dout) = (random([rows, t], seed: 4), random([rows, headDim], seed: 5))
                let fwd = bench.medianMs {
                    withNoGrad {
                        for _ in 0..<(b * kvHeads) {
                            _ = matmul(q, k, transposeB: true)  // S = Q Kᵀ
                            _ = matmul(p, v)                    // O = P V
                        }
                    }
                }
                let bwd = bench.medianMs {
                    withNoGrad {
                        for _ in 0..<(b * kvHeads) {
                            _ = matmul(p, dout, transposeA: true)  // dV = Pᵀ dO
                            _ = matmul(dout, v, transposeB: true)  // dP = dO Vᵀ
                            _ = matmul(p, k)                       // dQ = dS K
                            _ = matmul(p, q, transposeA: true)     // dK = dSᵀ Q
                        }
                    }
                }
                return (fwd, bwd)
            })
    }

    /// RMSNorm: memory-bound; bytes = forward reads x and writes y, backward reads x and g, writes dx.
    static func rmsNormCase(n: Int, d: Int) -> Case {
        let elems = Double(n * d)
        return Case(
            name: "rmsnorm", shape: "[\(n),\(d)]",
            flops: Work(forwardFlops: 4 * elems, backwardFlops: 10 * elems, bytes: 4 * 5 * elems, usesMatmul: false)
        ) {
            let x = random([n, d]), w = random([d], scale: 0.1, seed: 2)
            return ([x, w], { rmsNorm(x, weight: w) })
        }
    }

    /// GeGLU: memory-bound with a tanh per element; bytes = forward reads gate, up and writes out,
    /// backward reads gate, up, g and writes both gradients.
    static func gegluCase(n: Int, f: Int) -> Case {
        let elems = Double(n * f)
        return Case(
            name: "geglu", shape: "gate,up[\(n),\(f)]",
            flops: Work(forwardFlops: 20 * elems, backwardFlops: 40 * elems, bytes: 4 * 8 * elems, usesMatmul: false)
        ) {
            let gate = random([n, f]), up = random([n, f], seed: 2)
            return ([gate, up], { geglu(gate: gate, up: up) })
        }
    }
}
