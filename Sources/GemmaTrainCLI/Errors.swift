import ArgumentParser
import Foundation

/// Writes a line to standard error.
func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// Runs `body`; an error becomes one line `error: <description>` on standard error and exit code 1
/// (never a crash trace).
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as any CustomStringConvertible & Error {
        printError("error: \(error.description)")
        throw ExitCode(1)
    } catch {
        printError("error: \(error.localizedDescription)")
        throw ExitCode(1)
    }
}
