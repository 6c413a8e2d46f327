/// Slicing, concatenation and splitting along an axis. Each views tensors as `[outer, len, inner]`
/// around the axis and moves contiguous blocks of `len * inner` elements.

/// `x[..., range, ...]` along `axis`. Backward adds `g` into that window of `x.grad` (zero elsewhere).
public func slice(_ x: Tensor, axis: Int, _ range: Range<Int>) -> Tensor {
    let ax = normalizedAxis(axis, x.rank, "slice", x.shape)
    shapeCheck(range.lowerBound >= 0 && range.upperBound <= x.shape[ax],
               "slice: range \(range) out of bounds for axis \(ax) of \(x.shape)")
    let (outer, len, inner) = x.split(at: ax)
    var shape = x.shape
    shape[ax] = range.count
    let out = Tensor(uninitialized: shape)
    let window = Blocks(outer: outer, block: range.count * inner)
    window.copy(from: x.data + range.lowerBound * inner, stride: len * inner, to: out.data, stride: window.block)
    return out.recorded("slice", [x]) { g in
        x.withGradBuffer { dx, acc in
            if !acc { dx.update(repeating: 0, count: x.count) }
            window.add(from: g.data, stride: window.block, to: dx + range.lowerBound * inner, stride: len * inner)
        }
    }
}

/// Joins tensors along `axis`; all other dimensions must agree. Backward gives each its slice of `g`.
public func concat(_ xs: [Tensor], axis: Int) -> Tensor {
    shapeCheck(!xs.isEmpty, "concat: no tensors")
    let ax = normalizedAxis(axis, xs[0].rank, "concat", xs[0].shape)
    for x in xs {
        var (s0, s1) = (x.shape, xs[0].shape)
        shapeCheck(s0.count == s1.count, "concat: shapes \(xs[0].shape) and \(x.shape) differ in rank")
        s0[ax] = 0; s1[ax] = 0
        shapeCheck(s0 == s1, "concat: shapes \(xs[0].shape) and \(x.shape) differ off axis \(ax)")
    }
    var shape = xs[0].shape
    shape[ax] = xs.map { $0.shape[ax] }.reduce(0, +)
    let (outer, total, inner) = (shape[..<ax].reduce(1, *), shape[ax], shape[(ax + 1)...].reduce(1, *))
    let out = Tensor(uninitialized: shape)
    var starts: [Int] = []
    var at = 0
    for x in xs {
        starts.append(at)
        let part = Blocks(outer: outer, block: x.shape[ax] * inner)
        part.copy(from: x.data, stride: part.block, to: out.data + at * inner, stride: total * inner)
        at += x.shape[ax]
    }
    return out.recorded("concat", xs) { g in
        for (x, start) in zip(xs, starts) where x.requiresGrad {
            let part = Blocks(outer: outer, block: x.shape[ax] * inner)
            x.withGradBuffer { dx, acc in
                if acc {
                    part.add(from: g.data + start * inner, stride: total * inner, to: dx, stride: part.block)
                } else {
                    part.copy(from: g.data + start * inner, stride: total * inner, to: dx, stride: part.block)
                }
            }
        }
    }
}

/// Cuts `x` along `axis` into consecutive pieces of the given sizes (which must add up to the axis).
public func split(_ x: Tensor, sizes: [Int], axis: Int) -> [Tensor] {
    let ax = normalizedAxis(axis, x.rank, "split", x.shape)
    shapeCheck(sizes.reduce(0, +) == x.shape[ax], "split: sizes \(sizes) do not add up to axis \(ax) of \(x.shape)")
    var at = 0
    return sizes.map { n in
        defer { at += n }
        return slice(x, axis: ax, at..<(at + n))
    }
}

/// `outer` blocks of `block` contiguous elements, at a stride on each side.
struct Blocks {
    let outer: Int, block: Int

    func copy(from src: UnsafePointer<Float>, stride ss: Int, to dst: UnsafeMutablePointer<Float>, stride ds: Int) {
        let block = block
        Parallel.chunks(outer, grain: max(1, Vector.grain / max(block, 1))) { o0, o1 in
            for o in o0..<o1 { (dst + o * ds).update(from: src + o * ss, count: block) }
        }
    }

    func add(from src: UnsafePointer<Float>, stride ss: Int, to dst: UnsafeMutablePointer<Float>, stride ds: Int) {
        let block = block
        Parallel.chunks(outer, grain: max(1, Vector.grain / max(block, 1))) { o0, o1 in
            for o in o0..<o1 {
                let (s, d) = (src + o * ss, dst + o * ds)
                for e in 0..<block { d[e] += s[e] }
            }
        }
    }
}
