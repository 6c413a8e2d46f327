import Foundation
import Autograd
import NN

/// AdamW exactly as PyTorch's `torch.optim.AdamW` (bias-corrected moments, decoupled weight decay), one
/// pass over the flat parameter and gradient buffers of a ``ParameterStore``:
///
///     p ← p − lr·λ·p                      (only where the entry decays)
///     m ← β1·m + (1 − β1)·g
///     v ← β2·v + (1 − β2)·g²
///     p ← p − lr · (m / (1 − β1^t)) / (sqrt(v / (1 − β2^t)) + ε)
public final class AdamW {
    public var learningRate: Float
    public let beta1: Float, beta2: Float, epsilon: Float
    public var weightDecay: Float
    /// Steps taken (t in the bias corrections).
    public private(set) var step = 0
    /// First and second moments, `[P]` each, same layout as the parameters.
    public let m: Tensor, v: Tensor
    /// 1 where weight decay applies, 0 elsewhere: `[P]`.
    let decayMask: [Float]

    /// - Parameter decays: which tensors weight decay applies to; by default the store's own choice
    ///   (everything but norms and embeddings).
    public init(parameters: ParameterStore, learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999,
                epsilon: Float = 1e-8, weightDecay: Float = 0.01, decays: ((ParameterStore.Entry) -> Bool)? = nil) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        m = Tensor(zeros: [parameters.count])
        v = Tensor(zeros: [parameters.count])
        var mask = [Float](repeating: 0, count: parameters.count)
        for e in parameters.entries where decays?(e) ?? e.decay {
            for i in e.offset..<(e.offset + e.count) { mask[i] = 1 }
        }
        decayMask = mask
    }

    /// One update of `parameters` from their accumulated gradients.
    public func update(_ parameters: ParameterStore) {
        step += 1
        let (lr, b1, b2, eps, wd) = (learningRate, beta1, beta2, epsilon, weightDecay)
        let c1 = 1 - Float(Double(b1).power(step)), c2 = 1 - Float(Double(b2).power(step))
        let stepSize = lr / c1
        let c2Root = c2.squareRoot()
        let (p, g, m, v) = (parameters.values.data, UnsafePointer(parameters.gradients.data), m.data, v.data)
        decayMask.withUnsafeBufferPointer { mask in
            let mask = mask.baseAddress!
            Parallel.chunks(parameters.count, grain: 1 << 15) { s, e in
                for i in s..<e {
                    p[i] -= lr * wd * mask[i] * p[i]
                    m[i] = b1 * m[i] + (1 - b1) * g[i]
                    v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
                    p[i] -= stepSize * m[i] / (v[i].squareRoot() / c2Root + eps)
                }
            }
        }
    }
}

extension Double {
    func power(_ n: Int) -> Double { Foundation.pow(self, Double(n)) }
}
