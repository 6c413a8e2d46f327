import XCTest
@testable import Mesh

/// Run without mpirun, so MPI starts as a singleton job: rank 0 of 1.
final class WorldTests: XCTestCase {
    func testSingletonWorldIsRankZeroOfOne() throws {
        let world = try World()
        XCTAssertEqual(world.rank, 0)
        XCTAssertEqual(world.size, 1)
        XCTAssertEqual(world.communicator.rank, 0)
        XCTAssertEqual(world.communicator.size, 1)
        XCTAssertFalse(World.isFinalized)
    }

    func testSecondWorldJoinsTheExistingInitialisation() throws {
        let first = try World()
        let second = try World()
        XCTAssertEqual(first.rank, second.rank)
        XCTAssertEqual(first.size, second.size)
    }

    func testAllReduceSumOnOneRankReturnsTheBuffer() throws {
        let world = try World()
        // x: [37], odd length, with values that are exact in Float32.
        let x: [Float] = (0..<37).map { Float($0) * 0.5 - 7 }
        var y = x
        try y.withUnsafeMutableBufferPointer { try world.allReduceSum($0) }
        XCTAssertEqual(y, x)
        var empty: [Float] = []
        try empty.withUnsafeMutableBufferPointer { try world.allReduceSum($0) }
        XCTAssertEqual(empty, [])
        try world.barrier()
    }

    func testMPICheckNamesTheCallAndTheCode() throws {
        XCTAssertNoThrow(try mpiCheck(0, "MPI_Barrier"))
        XCTAssertThrowsError(try mpiCheck(1, "MPI_Allreduce")) { error in
            let error = error as? MPIError
            XCTAssertEqual(error?.call, "MPI_Allreduce")
            XCTAssertEqual(error?.code, 1)
            XCTAssertFalse(error?.message.isEmpty ?? true)
            XCTAssertTrue(error?.description.hasPrefix("MPI_Allreduce failed (MPI error 1): ") ?? false,
                          String(describing: error))
        }
    }
}
