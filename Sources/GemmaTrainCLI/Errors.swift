import ArgumentParser
import Checkpoint
import Foundation
import Mesh

/// Writes a line to standard error.
func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// What an error says in the one line `error: <what>`: a Foundation file error as `<path>: <reason>`
/// (never its raw `NSCocoaErrorDomain ... UserInfo` dump), any other error as its description.
func errorLine(_ error: any Error) -> String {
    FileSystemError.line(for: error) ?? "\(error)"
}

/// Runs `body`; an error becomes one line `error: <what>` on standard error and exit code 1
/// (never a crash trace).
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as ExitCode {
        throw error
    } catch {
        printError("error: \(errorLine(error))")
        throw ExitCode(1)
    }
}

/// Joins the MPI job (a job of one process without mpirun), runs `body` on this rank ``failingFast``,
/// and leaves the job.
func inWorld(_ body: (World) throws -> Void) throws {
    let world = try World()
    try failingFast(world) { try body(world) }
    try world.finalize()
}

/// Runs `body` on one rank of `world`. In a job of several ranks an error ends the whole job
/// (`MPI_Abort`) after printing `rank R: error: <what>`, so no rank waits forever in a
/// collective; in a job of one it is reported like any other error.
func failingFast(_ world: World, _ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error where world.size > 1 {
        world.abort(code: 1, message: "error: \(errorLine(error))")
    }
}
