import Autograd

/// The keys and values of one sequence being generated, for every layer, so each new token costs one
/// forward step instead of a pass over the whole prefix. Layout per layer: `[KV, capacity, hd]`, so
/// the keys of one kv head are one contiguous `[length, hd]` matrix.
public final class KVCache {
    public let capacity: Int
    /// Tokens stored so far (the position of the next token).
    public private(set) var length = 0
    let kvHeads: Int, headDim: Int, heads: Int
    let keys: [Tensor], values: [Tensor]  // per layer [KV, capacity, hd]

    /// A cache for a whole model of `config`.
    public convenience init(config: GemmaConfig, capacity: Int? = nil) {
        self.init(config: config, heads: config.numAttentionHeads, kvHeads: config.numKeyValueHeads, capacity: capacity)
    }

    /// A cache for `model`: on a model split over ranks, for this rank's heads.
    public convenience init(model: GemmaModel, capacity: Int? = nil) {
        let c = model.config
        self.init(config: c, heads: model.localHeads, kvHeads: model.tensorParallel?.kvHeads ?? c.numKeyValueHeads,
                  capacity: capacity)
    }

    convenience init(config: GemmaConfig, heads: Int, kvHeads: Int, capacity: Int?) {
        self.init(layers: config.numHiddenLayers, heads: heads, kvHeads: kvHeads, headDim: config.headDim,
                  capacity: capacity ?? config.maxPositionEmbeddings)
    }

    init(layers: Int, heads: Int, kvHeads: Int, headDim: Int, capacity: Int) {
        (self.capacity, self.heads, self.kvHeads, self.headDim) = (capacity, heads, kvHeads, headDim)
        keys = (0..<layers).map { _ in Tensor(zeros: [kvHeads, capacity, headDim]) }
        values = (0..<layers).map { _ in Tensor(zeros: [kvHeads, capacity, headDim]) }
    }

    /// A copy holding the same keys and values (a prompt prefilled once for several samples).
    public func copy() -> KVCache {
        let c = KVCache(layers: keys.count, heads: heads, kvHeads: kvHeads, headDim: headDim, capacity: capacity)
        for (mine, theirs) in zip(keys + values, c.keys + c.values) {
            for g in 0..<kvHeads {  // the stored positions of each kv head
                (theirs.data + g * capacity * headDim).update(from: mine.data + g * capacity * headDim, count: length * headDim)
            }
        }
        c.length = length
        return c
    }

    /// Stores `k, v: [1, n, KV, hd]` of `layer` at positions `length..<length+n`, then attends the
    /// queries `q: [1, n, H, hd]` (query `t` sees positions `0...length+t`). Returns `[1, n, H, hd]`.
    /// Call ``advance(by:)`` once every layer has seen the step.
    func attend(layer: Int, q: Tensor, k: Tensor, v: Tensor) -> Tensor {
        let n = q.shape[1]
        precondition(length + n <= capacity, "KVCache: \(length + n) tokens exceed the capacity \(capacity)")
        let (hd, kvHeads, group) = (headDim, kvHeads, heads / kvHeads)
        for t in 0..<n {
            for g in 0..<kvHeads {
                let at = (g * capacity + length + t) * hd
                (keys[layer].data + at).update(from: k.data + (t * kvHeads + g) * hd, count: hd)
                (values[layer].data + at).update(from: v.data + (t * kvHeads + g) * hd, count: hd)
            }
        }
        let out = Tensor(zeros: q.shape)
        let scale = 1 / Float(hd).squareRoot()
        withNoGrad {
            for t in 0..<n {
                let visible = length + t + 1
                for g in 0..<kvHeads {
                    let rows = (t * heads + g * group) * hd  // the query heads of kv head g, token t
                    let qg = q.window(offset: rows, shape: [group, hd])
                    let kg = keys[layer].window(offset: g * capacity * hd, shape: [visible, hd])
                    let vg = values[layer].window(offset: g * capacity * hd, shape: [visible, hd])
                    let o = matmul(softmax(matmul(qg, kg, transposeB: true) * scale), vg)  // [group, hd]
                    (out.data + rows).update(from: o.data, count: group * hd)
                }
            }
        }
        return out
    }

    /// Marks `n` more tokens as stored.
    func advance(by n: Int) { length += n }

    /// Forgets everything (a new conversation).
    public func reset() { length = 0 }
}

extension GemmaModel {
    /// Runs `ids` (one sequence) at positions `cache.length...` through the model, appending their keys
    /// and values to `cache`, and returns the next-token logits after the last of them, `[V]`. On a model
    /// split over ranks every rank of the group must call it with the same ids (and gets every logit).
    public func step(_ ids: [Int32], cache: KVCache) -> [Float] {
        precondition(!ids.isEmpty, "step: no tokens")
        return withNoGrad {
            let start = cache.length
            let positions = (0..<ids.count).map { Int32(start + $0) }
            let h = forward(ids: ids, batch: 1, positions: positions) { layer, q, k, v in
                cache.attend(layer: layer, q: q, k: k, v: v)
            }
            cache.advance(by: ids.count)
            return outputLogits(h.window(offset: (ids.count - 1) * config.hiddenSize, shape: [1, config.hiddenSize]))
        }
    }

    /// The logits `[R, V]` (row-major) of final-normed hidden states `h: [R, D]`. On a model split over
    /// ranks each rank computes its vocabulary rows and one sum over the group gathers them.
    func outputLogits(_ h: Tensor) -> [Float] {
        let local = linear(h, embed)  // [R, V] or this rank's [R, Vp/M]
        guard let tp = tensorParallel, tp.size > 1 else { return local.scalars }
        let (rows, width, v) = (h.shape[0], local.shape[1], config.vocabSize)
        var full = [Float](repeating: 0, count: rows * v)
        full.withUnsafeMutableBufferPointer { out in
            for r in 0..<rows {
                (out.baseAddress! + r * v + tp.vocab.firstRow).update(from: local.data + r * width, count: tp.vocab.validRows)
            }
            tp.group.sum(out)
        }
        return full
    }
}
