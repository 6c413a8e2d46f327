import Foundation

/// Learning rate per optimizer step: linear warmup from 0 to `peak` over `warmupSteps`, then cosine,
/// linear or constant decay to `peak * minRatio` at `totalSteps`.
public struct LearningRateSchedule: Sendable, Equatable {
    public enum Shape: String, Sendable, CaseIterable { case cosine, linear, constant }

    public let peak: Float, minRatio: Float
    public let warmupSteps: Int, totalSteps: Int
    public let shape: Shape

    public init(peak: Float, warmupSteps: Int, totalSteps: Int, shape: Shape, minRatio: Float = 0.1) {
        self.peak = peak
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.shape = shape
        self.minRatio = minRatio
    }

    /// The rate for step `step` (1-based: the first update uses step 1).
    public func rate(at step: Int) -> Float {
        if step <= warmupSteps { return peak * Float(step) / Float(max(warmupSteps, 1)) }
        let floor = peak * minRatio
        let progress = min(1, Double(step - warmupSteps) / Double(max(totalSteps - warmupSteps, 1)))
        switch shape {
        case .constant: return peak
        case .linear: return floor + (peak - floor) * Float(1 - progress)
        case .cosine: return floor + (peak - floor) * Float(0.5 * (1 + cos(Double.pi * progress)))
        }
    }
}
