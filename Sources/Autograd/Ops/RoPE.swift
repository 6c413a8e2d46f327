import Foundation

/// The cos/sin table of rotary position embeddings for one head size (Gemma: theta 10000, all dims).
///
/// `invFreq[i] = 1 / theta^(2i/hd)` for `i < hd/2`, computed in Float32 as Hugging Face does, and the
/// angle `pos * invFreq[i]` rounded to Float32 before its cos/sin, so tables match HF's.
public final class RotaryTable: Sendable {
    public let headDim: Int
    public let maxPositions: Int
    /// cos and sin: [maxPositions, hd/2]
    let cos: [Float], sin: [Float]

    public init(headDim: Int, maxPositions: Int, theta: Float = 10000) {
        precondition(headDim % 2 == 0, "RotaryTable: head_dim \(headDim) must be even")
        self.headDim = headDim
        self.maxPositions = maxPositions
        let half = headDim / 2
        let invFreq = (0..<half).map { i in 1 / Foundation.pow(theta, Float(2 * i) / Float(headDim)) }
        var c = [Float](repeating: 0, count: maxPositions * half), s = c
        for p in 0..<maxPositions {
            for i in 0..<half {
                let angle = Double(Float(p) * invFreq[i])
                c[p * half + i] = Float(Foundation.cos(angle))
                s[p * half + i] = Float(Foundation.sin(angle))
            }
        }
        cos = c
        sin = s
    }
}

/// Rotary position embedding, half-split ("rotate_half") layout: dim `j` pairs with `j + hd/2`.
///
/// `x: [..., H, hd]` with one position per leading index (`positions.count` = product of the leading
/// dimensions, e.g. `B*T`; packed documents restart at 0). With `x = [x1, x2]` halves:
/// `y1 = x1 cos - x2 sin`, `y2 = x2 cos + x1 sin`. Backward rotates `g` by the opposite angle:
/// `dx1 = g1 cos + g2 sin`, `dx2 = g2 cos - g1 sin`.
public func rope(_ x: Tensor, positions: [Int32], table: RotaryTable) -> Tensor {
    let hd = table.headDim
    shapeCheck(x.rank >= 2 && x.shape[x.rank - 1] == hd,
               "rope: input \(x.shape) must end in head_dim \(hd)")
    let heads = x.shape[x.rank - 2]
    shapeCheck(x.count == positions.count * heads * hd,
               "rope: \(positions.count) positions for input \(x.shape)")
    for (n, p) in positions.enumerated() {
        shapeCheck(p >= 0 && Int(p) < table.maxPositions,
                   "rope: position \(p) at index \(n) outside the table's 0..<\(table.maxPositions)")
    }
    let out = Tensor(uninitialized: x.shape)
    rotate(x.data, out.data, positions, table, heads: heads, direction: 1, accumulate: false)
    return out.recorded("rope", [x]) { g in
        x.withGradBuffer { dx, acc in rotate(g.data, dx, positions, table, heads: heads, direction: -1, accumulate: acc) }
    }
}

/// `dst (+)= rotate(src, direction * angle)` for every position and head.
private func rotate(
    _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ positions: [Int32],
    _ table: RotaryTable, heads: Int, direction: Float, accumulate: Bool
) {
    let half = table.headDim / 2
    let rowLen = heads * table.headDim
    positions.withUnsafeBufferPointer { pos in
        table.cos.withUnsafeBufferPointer { cosT in
            table.sin.withUnsafeBufferPointer { sinT in
                forEachRow(pos.count, cols: rowLen) { r in
                    let p = Int(pos[r / rowLen]) * half
                    let (c, s) = (cosT.baseAddress! + p, sinT.baseAddress! + p)
                    for h in 0..<heads {
                        let (x1, x2) = (src + r + h * 2 * half, src + r + h * 2 * half + half)
                        let (y1, y2) = (dst + r + h * 2 * half, dst + r + h * 2 * half + half)
                        for i in 0..<half {
                            let sn = direction * s[i]
                            let v1 = x1[i] * c[i] - x2[i] * sn
                            let v2 = x2[i] * c[i] + x1[i] * sn
                            y1[i] = accumulate ? y1[i] + v1 : v1
                            y2[i] = accumulate ? y2[i] + v2 : v2
                        }
                    }
                }
            }
        }
    }
}
