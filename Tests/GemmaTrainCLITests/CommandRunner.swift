import Foundation
import XCTest

/// Runs the `gemma-train` executable built next to the test bundle and captures its output.
struct CommandRunner {
    struct Result {
        let status: Int32, stdout: String, stderr: String
    }

    static let executable: URL = {
        var dir = Bundle(for: Marker.self).bundleURL
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("gemma-train").path), dir.path != "/" {
            dir.deleteLastPathComponent()
        }
        return dir.appendingPathComponent("gemma-train")
    }()

    /// Repository paths (fixtures, configs).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let tokenizer = root.appendingPathComponent("Tests/GemmaTests/Fixtures/tokenizer/demo.model").path
    static let hfFixtures = root.appendingPathComponent("Tests/GemmaTests/Fixtures/hf").path

    /// Runs `gemma-train arguments`, or the program `executable` (found on PATH) with them.
    static func run(_ arguments: [String], stdin: String? = nil, executable program: String? = nil) throws -> Result {
        let process = Process()
        if let program {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [program] + arguments
        } else {
            process.executableURL = executable
            process.arguments = arguments
        }
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// A fresh temporary directory.
    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gemma-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    final class Marker {}
}
