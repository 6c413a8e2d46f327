/// GELU with the tanh approximation, alone and fused into GeGLU (Gemma's MLP activation).
///
/// `gelu(x) = 0.5 x (1 + tanh(c (x + 0.044715 x³)))`, `c = sqrt(2/π)`;
/// `gelu'(x) = 0.5 (1 + t) + 0.5 x (1 - t²) c (1 + 3·0.044715 x²)` with `t = tanh(c (x + 0.044715 x³))`.

/// GELU (tanh approximation), elementwise.
public func geluTanh(_ x: Tensor) -> Tensor {
    let out = Tensor(uninitialized: x.shape)
    let (px, py, n) = (UnsafePointer(x.data), out.data, x.count)
    Parallel.chunks(n, grain: Vector.grain) { s, e in VectorMath.map(px + s, py + s, e - s) { GELU.value($0) } }
    return out.recorded("geluTanh", [x]) { g in
        let pg = UnsafePointer(g.data)
        x.withGradBuffer { dx, acc in
            Parallel.chunks(n, grain: Vector.grain) { s, e in
                GELU.zip(s, e) { i in
                    let v = load8(pg + i) * GELU.derivative(load8(px + i))
                    store8(acc ? load8(dx + i) + v : v, dx + i)
                } tail: { i in
                    let v = pg[i] * GELU.derivative(SIMD8(repeating: px[i]))[0]
                    dx[i] = acc ? dx[i] + v : v
                }
            }
        }
    }
}

/// GeGLU, fused: `gelu_tanh(gate) ⊙ up` for `gate, up: [N, F]` → `[N, F]`, in one pass each way.
/// Backward: `dgate = g ⊙ up ⊙ gelu'(gate)`, `dup = g ⊙ gelu(gate)` (recomputed, nothing saved).
public func geglu(gate: Tensor, up: Tensor) -> Tensor {
    shapeCheck(gate.shape == up.shape, "geglu: gate \(gate.shape) and up \(up.shape) differ")
    let out = Tensor(uninitialized: gate.shape)
    let (pa, pb, py, n) = (UnsafePointer(gate.data), UnsafePointer(up.data), out.data, gate.count)
    Parallel.chunks(n, grain: Vector.grain) { s, e in
        GELU.zip(s, e) { i in
            store8(GELU.value(load8(pa + i)) * load8(pb + i), py + i)
        } tail: { i in
            py[i] = GELU.value(SIMD8(repeating: pa[i]))[0] * pb[i]
        }
    }
    return out.recorded("geglu", [gate, up]) { g in
        let pg = UnsafePointer(g.data)
        let (needA, needB) = (gate.requiresGrad, up.requiresGrad)
        gate.withGradBufferIf(needA) { da, accA in
            up.withGradBufferIf(needB) { db, accB in
                Parallel.chunks(n, grain: Vector.grain) { s, e in
                    GELU.zip(s, e) { i in
                        let (value, slope) = GELU.valueAndDerivative(load8(pa + i))
                        let gg = load8(pg + i)
                        if let da {
                            let v = gg * load8(pb + i) * slope
                            store8(accA ? load8(da + i) + v : v, da + i)
                        }
                        if let db {
                            let v = gg * value
                            store8(accB ? load8(db + i) + v : v, db + i)
                        }
                    } tail: { i in
                        let (value, slope) = GELU.valueAndDerivative(SIMD8(repeating: pa[i]))
                        if let da {
                            let v = pg[i] * pb[i] * slope[0]
                            da[i] = accA ? da[i] + v : v
                        }
                        if let db {
                            let v = pg[i] * value[0]
                            db[i] = accB ? db[i] + v : v
                        }
                    }
                }
            }
        }
    }
}

enum GELU {
    static let c: Float = 0.7978845608028654  // sqrt(2/π)
    static let k: Float = 0.044715

    @inline(__always)
    static func value(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let inner: SIMD8<Float> = c * (x + k * x * x * x)
        return 0.5 * x * (1 + VectorMath.tanh(inner))
    }

    @inline(__always)
    static func derivative(_ x: SIMD8<Float>) -> SIMD8<Float> { valueAndDerivative(x).1 }

    /// `(gelu(x), gelu'(x))` sharing one tanh.
    @inline(__always)
    static func valueAndDerivative(_ x: SIMD8<Float>) -> (SIMD8<Float>, SIMD8<Float>) {
        let x2: SIMD8<Float> = x * x
        let t: SIMD8<Float> = VectorMath.tanh(c * (x + k * x2 * x))
        let dInner: SIMD8<Float> = c * (1 + 3 * k * x2)
        let half: SIMD8<Float> = 0.5 * (1 + t)
        return (x * half, half + 0.5 * x * (1 - t * t) * dInner)
    }

    /// Calls `body(i)` for each 8-element group in `s..<e` and `tail(i)` for the leftover elements.
    @inline(__always)
    static func zip(_ s: Int, _ e: Int, _ body: (Int) -> Void, tail: (Int) -> Void) {
        var i = s
        while i + 8 <= e { body(i); i += 8 }
        while i < e { tail(i); i += 1 }
    }
}
