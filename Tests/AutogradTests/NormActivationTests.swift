import Foundation
import XCTest
@testable import Autograd

/// Softmax, RMSNorm, GELU-tanh, GeGLU and RoPE: values against formulas evaluated in Double, gradients
/// against finite differences (eps 1e-2, |err| <= 1e-3 + 1e-2 |numeric|).
final class NormActivationTests: XCTestCase {
    func testSoftmaxAndLogSoftmax() {
        var rng = TestRNG(seed: 30)
        for shape in [[3, 17], [2, 1, 5], [1, 1]] {
            let x = rng.tensor(shape, -4, 4)
            let y = softmax(x), ly = logSoftmax(x)
            let cols = shape.last!
            for r in 0..<(x.count / cols) {
                let row = (0..<cols).map { Double(x.data[r * cols + $0]) }
                let m = row.max()!
                let z = row.map { Foundation.exp($0 - m) }.reduce(0, +)
                for j in 0..<cols {
                    XCTAssertEqual(Double(y.data[r * cols + j]), Foundation.exp(row[j] - m) / z, accuracy: 1e-6)
                    XCTAssertEqual(Double(ly.data[r * cols + j]), row[j] - m - Foundation.log(z), accuracy: 1e-5)
                }
            }
            assertGradients([x]) { softmax(x) }
            assertGradients([x]) { logSoftmax(x) }
        }
        // -inf entries (masks) get probability 0 and no NaN.
        let masked = softmax(Tensor([0, -.infinity, 1], shape: [1, 3]))
        XCTAssertEqual(masked.data[1], 0)
        XCTAssertEqual(Double(masked.data[0] + masked.data[2]), 1, accuracy: 1e-6)
    }

    func testRMSNormMatchesGemmaFormula() {
        var rng = TestRNG(seed: 31)
        for (rows, d) in [(3, 17), (1, 1), (4, 3)] {
            let x = rng.tensor([rows, d], -2, 2), w = rng.tensor([d], -0.5, 0.5)
            let y = rmsNorm(x, weight: w)
            for r in 0..<rows {
                let ms = (0..<d).map { Double(x.data[r * d + $0]) }.map { $0 * $0 }.reduce(0, +) / Double(d)
                for j in 0..<d {
                    let want = Double(x.data[r * d + j]) / (ms + 1e-6).squareRoot() * (1 + Double(w.data[j]))
                    XCTAssertEqual(Double(y.data[r * d + j]), want, accuracy: 1e-5)
                }
            }
            assertGradients([x, w], eps: 1e-3) { rmsNorm(x, weight: w) }
        }
    }

    func gelu(_ x: Double) -> Double { 0.5 * x * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x))) }

    func testGeluAndGeglu() {
        var rng = TestRNG(seed: 32)
        let x = rng.tensor([3, 17], -5, 5), up = rng.tensor([3, 17], -2, 2)
        let y = geluTanh(x), z = geglu(gate: x, up: up)
        for i in 0..<x.count {
            XCTAssertEqual(Double(y.data[i]), gelu(Double(x.data[i])), accuracy: 2e-6)
            XCTAssertEqual(Double(z.data[i]), gelu(Double(x.data[i])) * Double(up.data[i]), accuracy: 1e-5)
        }
        assertGradients([x]) { geluTanh(x) }
        assertGradients([x, up]) { geglu(gate: x, up: up) }
        let one = rng.tensor([1]), u1 = rng.tensor([1])
        assertGradients([one, u1]) { geglu(gate: one, up: u1) }
        // GeGLU is exactly GELU(gate) * up composed from primitives, forward and backward.
        up.requiresGrad = true
        assertGradients([x, up]) { geluTanh(x) * up }
    }

    func testRoPEHalfSplitRotation() {
        var rng = TestRNG(seed: 33)
        let (b, t, h, hd) = (2, 3, 3, 8)
        let table = RotaryTable(headDim: hd, maxPositions: 16)
        let x = rng.tensor([b, t, h, hd])
        let positions: [Int32] = [0, 1, 2, 5, 0, 1]  // second row: a packed document restarts at 0
        let y = rope(x, positions: positions, table: table)
        for n in 0..<(b * t) {
            for head in 0..<h {
                for i in 0..<(hd / 2) {
                    let angle = Double(positions[n]) * Foundation.pow(10000, -Double(2 * i) / Double(hd))
                    let base = (n * h + head) * hd
                    let (x1, x2) = (Double(x.data[base + i]), Double(x.data[base + i + hd / 2]))
                    XCTAssertEqual(Double(y.data[base + i]), x1 * Foundation.cos(angle) - x2 * Foundation.sin(angle), accuracy: 1e-5)
                    XCTAssertEqual(Double(y.data[base + i + hd / 2]), x2 * Foundation.cos(angle) + x1 * Foundation.sin(angle), accuracy: 1e-5)
                }
            }
        }
        assertGradients([x]) { rope(x, positions: positions, table: table) }
    }
}
