import Autograd
import NN

extension ParameterStore {
    /// The global L2 norm of all gradients (accumulated in Double), as PyTorch's `clip_grad_norm_`
    /// computes it.
    public func gradientNorm() -> Double { gradients.sumOfSquares().squareRoot() }

    /// Scales the gradients so their global norm is at most `maxNorm` (PyTorch: by
    /// `maxNorm / (norm + 1e-6)` when that is below 1). Returns the norm before clipping.
    @discardableResult
    public func clipGradients(maxNorm: Float) -> Double {
        let norm = gradientNorm()
        guard maxNorm > 0 else { return norm }
        let coefficient = Double(maxNorm) / (norm + 1e-6)
        if coefficient < 1 {
            let (g, c) = (gradients.data, Float(coefficient))
            Parallel.chunks(count, grain: 1 << 15) { s, e in
                for j in s..<e { g[j] *= c }
            }
        }
        return norm
    }
}
