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

    public init(config: GemmaConfig, capacity: Int? = nil) {
        let capacity = capacity ?? config.maxPositionEmbeddings
        self.capacity = capacity
        kvHeads = config.numKeyValueHeads
        headDim = config.headDim
        heads = config.numAttentionHeads
        let shape = [config.numKeyValueHeads, capacity, config.headDim]
        keys = (0..<config.numHiddenLayers).map { _ in Tensor(zeros: shape) }
        values = (0..<config.numHiddenLayers).map { _ in Tensor(zeros: shape) }
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
    /// and values to `cache`, and returns the next-token logits after the last of them, `[V]`.
    public func step(_ ids: [Int32], cache: KVCache) -> [Float] {
        precondition(!ids.isEmpty, "step: no tokens")
        precondition(tensorParallel == nil, "step: generation runs on a whole model, not a shard")
        return withNoGrad {
            let start = cache.length
            let positions = (0..<ids.count).map { Int32(start + $0) }
            let h = forward(ids: ids, batch: 1, positions: positions) { layer, q, k, v in
                cache.attend(layer: layer, q: q, k: k, v: v)
            }
            cache.advance(by: ids.count)
            let last = h.window(offset: (ids.count - 1) * config.hiddenSize, shape: [1, config.hiddenSize])
            return matmul(last, embed, transposeB: true).scalars
        }
    }
}
