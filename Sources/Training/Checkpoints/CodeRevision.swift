import Foundation

/// The code revision recorded in checkpoints (root attribute `code_revision`).
///
/// In order: the environment variable `GEMMA_TRAIN_REVISION` when set and not empty (launch scripts
/// and clusters without git set it); else `git rev-parse HEAD` run in the current directory, with
/// `-dirty` appended when tracked files differ from it (`git status --porcelain --untracked-files=no`);
/// else `unknown`. Worked out once per process, the first time it is asked for, so a save never
/// spawns a process.
public enum CodeRevision {
    /// The environment variable that overrides git.
    public static let environmentVariable = "GEMMA_TRAIN_REVISION"

    /// This process's revision.
    public static let current: String = {
        if let given = ProcessInfo.processInfo.environment[environmentVariable], !given.isEmpty { return given }
        guard let head = git(["rev-parse", "HEAD"]), !head.isEmpty else { return "unknown" }
        let changes = git(["status", "--porcelain", "--untracked-files=no"]) ?? ""
        return changes.isEmpty ? head : head + "-dirty"
    }()

    /// The trimmed standard output of `git <arguments>` in the current directory, or nil if git is
    /// missing or fails.
    private static func git(_ arguments: [String]) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
