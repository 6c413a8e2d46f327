import XCTest
@testable import Autograd

/// The fused causal attention against (1) finite differences and (2) the plain composition of primitive
/// ops (slice, matmul, softmax, concat), forward and backward, for MQA, GQA and MHA, with several query
/// and key tiles, and with packed documents.
final class AttentionTests: XCTestCase {
    /// Attention written with primitive ops only: per batch row and head, `softmax(QKᵀ·scale + mask) V`.
    func reference(_ q: Tensor, _ k: Tensor, _ v: Tensor, documents: [Int32]?) -> Tensor {
        let (b, t, h, hd) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
        let kv = k.shape[2]
        var maskValues = [Float](repeating: 0, count: b * t * t)
        for bi in 0..<b {
            for i in 0..<t {
                for j in 0..<t {
                    let sameDoc = documents.map { $0[bi * t + i] == $0[bi * t + j] } ?? true
                    if j > i || !sameDoc { maskValues[(bi * t + i) * t + j] = -1e9 }
                }
            }
        }
        var rows: [Tensor] = []
        for bi in 0..<b {
            let mask = Tensor(Array(maskValues[(bi * t * t)..<((bi + 1) * t * t)]), shape: [t, t])
            let head = { (x: Tensor, n: Int) in reshape(slice(slice(x, axis: 0, bi..<(bi + 1)), axis: 2, n..<(n + 1)), [t, hd]) }
            var heads: [Tensor] = []
            for hi in 0..<h {
                let g = hi / (h / kv)
                let scores = matmul(head(q, hi), head(k, g), transposeB: true) * (1 / Float(hd).squareRoot()) + mask
                heads.append(reshape(matmul(softmax(scores), head(v, g)), [t, 1, hd]))
            }
            rows.append(reshape(concat(heads, axis: 1), [1, t, h, hd]))
        }
        return concat(rows, axis: 0)
    }

    /// Forward values and all three gradients of the fused op equal the composition's within 1e-5.
    func checkAgainstReference(b: Int, t: Int, h: Int, kv: Int, hd: Int, documents: [Int32]? = nil,
                               tileRows: Int, keyTile: Int, line: UInt = #line) {
        var rng = TestRNG(seed: UInt64(b * 1000 + t * 100 + h * 10 + kv))
        let q = rng.tensor([b, t, h, hd], -2, 2), k = rng.tensor([b, t, kv, hd], -2, 2), v = rng.tensor([b, t, kv, hd])
        let seed = rng.tensor([b, t, h, hd], requiresGrad: false)
        let fused = causalAttention(q: q, k: k, v: v, documents: documents, scale: nil, tileRows: tileRows, keyTile: keyTile)
        fused.backward(seed: seed)
        let (dq, dk, dv) = (q.grad!, k.grad!, v.grad!)
        for x in [q, k, v] { x.zeroGrad() }
        let plain = reference(q, k, v, documents: documents)
        plain.backward(seed: seed)
        assertClose(fused, plain, tol: 1e-5, "forward", line: line)
        assertClose(dq, q.grad!, tol: 1e-5, "dq", line: line)
        assertClose(dk, k.grad!, tol: 1e-5, "dk", line: line)
        assertClose(dv, v.grad!, tol: 1e-5, "dv", line: line)
    }

    func testMatchesCompositionAcrossHeadLayoutsAndTiles() {
        // MQA (8 heads, 1 kv), GQA (4 heads, 2 kv), MHA (3 heads, 3 kv); odd T and head_dim;
        // tiles smaller than T so the online softmax crosses tiles and partial tiles occur.
        checkAgainstReference(b: 2, t: 17, h: 8, kv: 1, hd: 3, tileRows: 24, keyTile: 5)
        checkAgainstReference(b: 1, t: 17, h: 4, kv: 2, hd: 8, tileRows: 6, keyTile: 4)
        checkAgainstReference(b: 2, t: 9, h: 3, kv: 3, hd: 5, tileRows: 2, keyTile: 3)
        checkAgainstReference(b: 1, t: 1, h: 2, kv: 1, hd: 1, tileRows: 512, keyTile: 256)
        checkAgainstReference(b: 2, t: 33, h: 4, kv: 1, hd: 16, tileRows: 512, keyTile: 256)
    }

    func testPackedDocumentsDoNotAttendAcrossDocuments() {
        let docs: [Int32] = [0, 0, 0, 1, 1, 2, 2, 2, 2, 2, 7, 7, 7, 7, 7, 7, 7, 7]
        checkAgainstReference(b: 2, t: 9, h: 4, kv: 2, hd: 4, documents: docs, tileRows: 4, keyTile: 3)
        checkAgainstReference(b: 2, t: 9, h: 2, kv: 1, hd: 4, documents: docs, tileRows: 512, keyTile: 256)
    }

    /// Finite differences (eps 1e-2, |err| <= 1e-3 + 1e-2 |numeric|) on a small GQA case with tiling.
    func testFiniteDifferences() {
        var rng = TestRNG(seed: 40)
        let q = rng.tensor([1, 5, 4, 3]), k = rng.tensor([1, 5, 2, 3]), v = rng.tensor([1, 5, 2, 3])
        assertGradients([q, k, v]) {
            causalAttention(q: q, k: k, v: v, documents: nil, scale: nil, tileRows: 4, keyTile: 2)
        }
        assertGradients([q, k, v]) { causalAttention(q: q, k: k, v: v) }
    }

    /// At T = 4096 the op runs forward and backward without any buffer of T x T elements.
    func testLongSequenceNeverAllocatesTimesTime() {
        var rng = TestRNG(seed: 41)
        let t = 4096
        let q = rng.tensor([1, t, 2, 8]), k = rng.tensor([1, t, 1, 8]), v = rng.tensor([1, t, 1, 8])
        _ = BufferPool.shared.takeLargestRequest()
        let y = causalAttention(q: q, k: k, v: v)
        y.backward(seed: Tensor(repeating: 1e-3, shape: y.shape))
        let largest = BufferPool.shared.takeLargestRequest()
        XCTAssertLessThan(largest, t * t, "largest buffer \(largest) floats")
        // The largest buffer is one thread's backward tile scratch: Q, dO, O tiles [512, hd], P and dS
        // tiles [512, 256] and two row vectors, whatever T is.
        XCTAssertLessThanOrEqual(largest, BufferPool.sizeClass(3 * 512 * 8 + 2 * 512 * 256 + 2 * 512))
        XCTAssertTrue(q.grad!.scalars.allSatisfy(\.isFinite))
    }
}
