import XCTest
@testable import Autograd

final class TapeTests: XCTestCase {
    /// A tensor that feeds two ops receives the sum of both gradients: d(x*x + x)/dx = 2x + 1.
    func testGradientsAccumulateOverUses() {
        let x = Tensor([1, -2, 3], shape: [3])
        x.requiresGrad = true
        sum(x * x + x).backward()
        XCTAssertEqual(x.grad?.scalars, [3, -3, 7])
    }

    /// Calling backward twice adds into existing gradients until they are cleared.
    func testRepeatedBackwardAccumulatesUntilZeroed() {
        let x = Tensor([2], shape: [1])
        x.requiresGrad = true
        sum(x * 3).backward()
        sum(x * 3).backward()
        XCTAssertEqual(x.grad?.scalars, [6])
        x.zeroGrad()
        XCTAssertNil(x.grad)
    }

    func testNoGradRecordsNothing() {
        let x = Tensor([1, 2], shape: [2])
        x.requiresGrad = true
        let y = withNoGrad { exp(x) * 2 }
        XCTAssertFalse(y.requiresGrad)
        XCTAssertNil(y.node)
        XCTAssertTrue((exp(x) * 2).requiresGrad)
    }

    /// After backward, intermediate tensors lose their nodes and gradients, and what ops saved is freed.
    func testBackwardReleasesSavedState() {
        let x = Tensor([0.5, 1.5], shape: [2])
        x.requiresGrad = true
        let hidden = tanh(x)
        weak let saved = hidden.node
        let loss = sum(hidden * hidden)
        XCTAssertNotNil(saved)
        loss.backward()
        XCTAssertNil(hidden.node)
        XCTAssertNil(hidden.grad)
        XCTAssertNil(saved)
        XCTAssertNotNil(x.grad)
    }

    func testInputsWithoutGradGetNone() {
        let x = Tensor([1, 2], shape: [2])
        let w = Tensor([3, 4], shape: [2])
        w.requiresGrad = true
        sum(x * w).backward()
        XCTAssertNil(x.grad)
        XCTAssertEqual(w.grad?.scalars, [1, 2])
    }

    func testExplicitSeed() {
        let x = Tensor([1, 2, 3], shape: [3])
        x.requiresGrad = true
        (x * 2).backward(seed: Tensor([1, 10, 100], shape: [3]))
        XCTAssertEqual(x.grad?.scalars, [2, 20, 200])
    }

    func testSizeClassesAreTightAndShared() {
        XCTAssertEqual(BufferPool.sizeClass(1), 16)
        XCTAssertEqual(BufferPool.sizeClass(1024), 1024)
        XCTAssertEqual(BufferPool.sizeClass(1025), 1152)
        XCTAssertEqual(BufferPool.sizeClass(2048 * 512), 2048 * 512)
        for n in [1500, 70_000, 3_000_001] {
            let c = BufferPool.sizeClass(n)
            XCTAssertGreaterThanOrEqual(c, n)
            XCTAssertLessThanOrEqual(Double(c), Double(n) * 1.125)
        }
        // Right-padded batches of slightly different lengths share a class.
        XCTAssertEqual(BufferPool.sizeClass(2 * 8 * 130 * 128), BufferPool.sizeClass(2 * 8 * 133 * 128))
    }

    func testBufferPoolReusesBuffers() {
        let pool = BufferPool(budgetBytes: 1 << 20)
        let a = pool.take(1000)
        pool.give(a, 1000)
        XCTAssertEqual(pool.take(1000), a)
        XCTAssertEqual(pool.takeLargestRequest(), 1000)
        XCTAssertEqual(pool.takeLargestRequest(), 0)
    }
}
