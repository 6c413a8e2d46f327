import Foundation

/// Wilson's score interval for a binomial proportion: `successes` of `n` trials (ties counted as half a
/// success), at the normal quantile `z` (1.96 for 95%):
///
///     center ± half = (p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n)
///
/// Unlike the normal (Wald) interval it stays inside [0, 1] and is not empty at p̂ = 0 or 1.
func wilsonInterval(successes: Double, n: Int, z: Double = 1.959963984540054) -> (low: Double, high: Double) {
    guard n > 0 else { return (0, 1) }
    let count = Double(n), p = successes / count
    let denominator = 1 + z * z / count
    let center = p + z * z / (2 * count)
    let half = z * (p * (1 - p) / count + z * z / (4 * count * count)).squareRoot()
    return (max(0, (center - half) / denominator), min(1, (center + half) / denominator))
}
