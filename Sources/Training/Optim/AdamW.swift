import Foundation
import Autograd
import NN

/// AdamW exactly as PyTorch's `torch.optim.AdamW` (bias-corrected moments, decoupled weight decay), one
/// pass over a range of the flat parameter and gradient buffers of a ``ParameterStore``:
///
///     p ← p − lr·λ·p                      (only where the entry decays)
///     m ← β1·m + (1 − β1)·g
///     v ← β2·v + (1 − β2)·g²
///     p ← p − lr · (m / (1 − β1^t)) / (sqrt(v / (1 − β2^t)) + ε)
///
/// The range is the whole buffer on one rank, or this data rank's ZeRO-1 shard: the moments exist only
/// for the range.
public final class AdamW {
    public var learningRate: Float
    public let beta1: Float, beta2: Float, epsilon: Float
    public var weightDecay: Float
    /// Steps taken (t in the bias corrections); set it when resuming.
    public var step = 0
    /// The elements of the flat buffers this optimizer updates.
    public let range: Range<Int>
    /// First and second moments of the range, `[range.count]` each.
    public let m: Tensor, v: Tensor
    /// The range cut into runs of one weight-decay setting (parameter boundaries), in order.
    let segments: [(elements: Range<Int>, decays: Bool)]

    /// - Parameters:
    ///   - range: the elements to update, within the store's trainable ones; all of them by default.
    ///   - decays: which tensors weight decay applies to; by default the store's own choice
    ///     (everything but norms and embeddings).
    public init(parameters: ParameterStore, range: Range<Int>? = nil, learningRate: Float, beta1: Float = 0.9,
                beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0.01,
                decays: ((ParameterStore.Entry) -> Bool)? = nil) {
        let range = range ?? parameters.trainable
        precondition(range.clamped(to: parameters.trainable) == range, "AdamW: range \(range) covers frozen parameters")
        self.range = range
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        m = Tensor(zeros: [range.count])
        v = Tensor(zeros: [range.count])
        var segments: [(elements: Range<Int>, decays: Bool)] = []
        for e in parameters.entries {
            let part = range.clamped(to: e.offset..<(e.offset + e.count))
            guard !part.isEmpty else { continue }
            let decays = decays?(e) ?? e.decay
            if let last = segments.last, last.decays == decays, last.elements.upperBound == part.lowerBound {
                segments[segments.count - 1].elements = last.elements.lowerBound..<part.upperBound
            } else {
                segments.append((part, decays))
            }
        }
        self.segments = segments
    }

    /// One update of the range of `parameters` from their accumulated gradients, each multiplied by
    /// `gradientScale` first (gradient clipping's factor; PyTorch scales the gradients in place before
    /// the step, which gives the same values).
    public func update(_ parameters: ParameterStore, gradientScale: Float = 1) {
        step += 1
        let (b1, b2, eps) = (beta1, beta2, epsilon)
        let c1 = 1 - Float(Double(b1).power(step)), c2 = 1 - Float(Double(b2).power(step))
        let stepSize = learningRate / c1
        let c2Root = c2.squareRoot()
        let first = range.lowerBound
        // Both indexed by flat position (the gradients start at the first trainable one).
        let (p, g) = (parameters.values.data, UnsafePointer(parameters.gradients.data - parameters.trainable.lowerBound))
        let (m, v) = (m.data - first, v.data - first)  // indexed by flat position
        for segment in segments {
            let decay = segment.decays ? 1 - learningRate * weightDecay : 1
            let base = segment.elements.lowerBound
            Parallel.chunks(segment.elements.count, grain: 1 << 15) { s, e in
                for i in (base + s)..<(base + e) {
                    let gi = g[i] * gradientScale
                    p[i] *= decay
                    m[i] = b1 * m[i] + (1 - b1) * gi
                    v[i] = b2 * v[i] + (1 - b2) * gi * gi
                    p[i] -= stepSize * m[i] / (v[i].squareRoot() / c2Root + eps)
                }
            }
        }
    }
}

extension Double {
    func power(_ n: Int) -> Double { Foundation.pow(self, Double(n)) }
}
