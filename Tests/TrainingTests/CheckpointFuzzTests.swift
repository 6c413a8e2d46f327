import Checkpoint
import Foundation
import XCTest
@testable import Training

/// One damaged byte anywhere in a checkpoint is a clean error or goes unnoticed because it changed
/// nothing that is read, never a crash and never different data.
///
/// A small training checkpoint (``CheckpointFixture``, 2 layers) is written by the current code; for
/// every 64th byte a fresh copy with that byte inverted is read in full (``Snapshot/read(_:)``). The
/// reads run in children, this test bundle run on ``testFuzzChild()`` (skipped unless
/// `GEMMATRAIN_FUZZ_FILE` is set), so a crash of the library is a finding, not the end of the test
/// runner: each child works through a list of offsets and reports each one's outcome, and a child that
/// dies is restarted after the case it died on. A case counts as a crash only if it kills a fresh child
/// on its first case (so state left behind by an earlier case cannot be blamed on it).
final class CheckpointFuzzTests: XCTestCase {
    static let fileVariable = "GEMMATRAIN_FUZZ_FILE"
    static let offsetsVariable = "GEMMATRAIN_FUZZ_OFFSETS"
    static let reportVariable = "GEMMATRAIN_FUZZ_REPORT"
    /// Bytes between damaged offsets: 64, or `GEMMATRAIN_FUZZ_STRIDE` for a denser run by hand (1: every
    /// byte, about a minute per 10,000 bytes).
    static let stride = ProcessInfo.processInfo.environment["GEMMATRAIN_FUZZ_STRIDE"].flatMap { Int($0) } ?? 64
    /// Children running at once.
    static let workers = 2

    /// Everything a reader gets out of a checkpoint: root attributes, the state, and every dataset's
    /// shape and bits.
    struct Snapshot: Equatable {
        var version: String
        var kind: String
        var config: String
        var state: CheckpointState?
        var datasets: [String: [Int]]
        var tensors: [String: [UInt32]]
        var tokenizer: [UInt8]?

        /// Opens `path` the way resuming does, verifies every dataset and reads everything back.
        static func read(_ path: String) throws -> Snapshot {
            let reader = try CheckpointReader.open(path)
            try reader.verify()
            var snapshot = Snapshot(version: reader.version, kind: reader.kind.rawValue, config: reader.modelConfigJSON,
                                    state: reader.state, datasets: [:], tensors: [:], tokenizer: try reader.tokenizer())
            for check in try reader.checkDatasets() {
                if let error = check.error { throw error }
                snapshot.datasets[check.dataset] = check.shape
            }
            for group in TensorGroup.allCases {
                for name in try reader.tensorNames(group) {
                    let (shape, values) = try reader.read(group, name: name)
                    snapshot.datasets[group.dataset(name) + "#read"] = shape
                    snapshot.tensors[group.dataset(name)] = values.map(\.bitPattern)
                }
            }
            return snapshot
        }

        /// The first part of `other` that differs from this one, e.g. `dataset /params/x`; nil if equal.
        func difference(from other: Snapshot) -> String? {
            if version != other.version || kind != other.kind { return "version or kind" }
            if config != other.config { return "attribute /@config" }
            if state != other.state { return "state" }
            if tokenizer != other.tokenizer { return "tokenizer" }
            if datasets != other.datasets { return "dataset list or shapes" }
            return tensors.keys.sorted().first { tensors[$0] != other.tensors[$0] }.map { "dataset \($0)" }
        }
    }

    /// The outcome of one damaged copy.
    enum Outcome: Equatable {
        case error(String)
        case identical
        case different(String)
        case crash(String)
    }

    /// The child: reads a damaged copy of the file for each offset (listed, comma-separated, in the file
    /// `GEMMATRAIN_FUZZ_OFFSETS` names), appending `start O` before and
    /// `done O error|identical|different [detail]` after each case to the report file.
    func testFuzzChild() throws {
        let environment = ProcessInfo.processInfo.environment
        guard let original = environment[Self.fileVariable], let offsetsFile = environment[Self.offsetsVariable],
              let report = environment[Self.reportVariable]
        else {
            throw XCTSkip("runs only as the child process of testEveryFlippedByteIsAnErrorOrAnIdenticalRead")
        }
        let expected = try Snapshot.read(original)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: original)))
        let out = open(report, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        guard out >= 0 else { throw FileSystemError(path: report, call: "open") }
        defer { close(out) }
        func say(_ line: String) { _ = (line + "\n").utf8CString.withUnsafeBufferPointer { write(out, $0.baseAddress, $0.count - 1) } }
        let copy = report + ".h5"
        let list = try String(contentsOfFile: offsetsFile, encoding: .utf8)
        for offset in list.split(separator: ",").compactMap({ Int($0) }) {
            var damaged = bytes
            damaged[offset] ^= 0xFF
            try Data(damaged).write(to: URL(fileURLWithPath: copy))
            say("start \(offset)")
            do {
                let read = try Snapshot.read(copy)
                say("done \(offset) " + (read.difference(from: expected).map { "different " + $0 } ?? "identical"))
            } catch {
                say("done \(offset) error " + "\(error)".replacingOccurrences(of: "\n", with: " "))
            }
        }
        unlink(copy)
    }

    func testEveryFlippedByteIsAnErrorOrAnIdenticalRead() throws {
        #if !os(Linux)
        throw XCTSkip("runs the XCTest executable as a child, which is Linux's layout")
        #else
        let dir = try CheckpointFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let original = dir.appendingPathComponent("ckpt-00000003.h5").path
        try CheckpointFixture().write(step: 3, to: original)
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: original)[.size] as? Int)
        let offsets = Array(Swift.stride(from: 0, to: size, by: Self.stride))

        let results = Results()
        DispatchQueue.concurrentPerform(iterations: Self.workers) { worker in
            let mine = offsets.enumerated().filter { $0.offset % Self.workers == worker }.map(\.element)
            let found = Self.run(mine, original: original, report: dir.appendingPathComponent("report-\(worker)").path)
            results.add(found)
        }
        let all = results.all
        XCTAssertEqual(all.count, offsets.count, "offsets without an outcome")
        let errors = all.filter { if case .error = $0.value { true } else { false } }
        let identical = all.filter { $0.value == .identical }
        let different = all.compactMap { entry -> String? in
            if case .different(let what) = entry.value { "\(entry.key) (\(what))" } else { nil }
        }.sorted()
        let crashes = all.compactMap { entry -> (Int, String)? in
            if case .crash(let how) = entry.value { (entry.key, how) } else { nil }
        }.sorted { $0.0 < $1.0 }
        print("fuzz: \(offsets.count) offsets of \(size) bytes (every \(Self.stride)th): \(errors.count) errors, "
              + "\(identical.count) identical reads, \(different.count) different reads, \(crashes.count) crashes")
        XCTAssertEqual(crashes.count, 0, "crashed at offsets " + crashes.map { "\($0.0) (\($0.1))" }.joined(separator: ", "))
        XCTAssertEqual(different, [], "read different data without an error at these offsets (what differed)")
        // Every error is one line naming the file.
        for (offset, outcome) in errors {
            guard case .error(let text) = outcome else { continue }
            XCTAssertTrue(text.contains(dir.path), "offset \(offset): \(text)")
        }
        #endif
    }

    /// Thread-safe collection of the workers' outcomes.
    private final class Results: @unchecked Sendable {
        private let lock = NSLock()
        private var outcomes: [Int: Outcome] = [:]
        func add(_ found: [Int: Outcome]) { lock.withLock { outcomes.merge(found) { $1 } } }
        var all: [Int: Outcome] { lock.withLock { outcomes } }
    }

    /// Works through `offsets` in children, restarting after each one that dies.
    private static func run(_ offsets: [Int], original: String, report: String) -> [Int: Outcome] {
        var outcomes: [Int: Outcome] = [:]
        var pending = offsets[...]
        while let first = pending.first {
            unlink(report)
            let offsetsFile = report + ".offsets"
            do {
                try pending.map(String.init).joined(separator: ",").write(toFile: offsetsFile, atomically: false, encoding: .utf8)
            } catch {
                for offset in pending { outcomes[offset] = .crash("cannot write \(offsetsFile): \(error)") }
                break
            }
            let child = Process()
            child.executableURL = URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0])
            child.arguments = ["TrainingTests.CheckpointFuzzTests/testFuzzChild"]
            child.environment = ProcessInfo.processInfo.environment.merging([
                fileVariable: original, reportVariable: report, offsetsVariable: offsetsFile,
            ]) { $1 }
            child.standardOutput = FileHandle.nullDevice
            child.standardError = FileHandle.nullDevice
            do { try child.run() } catch {
                for offset in pending { outcomes[offset] = .crash("cannot start the child: \(error)") }
                break
            }
            let deadline = Date().addingTimeInterval(120)
            while child.isRunning && Date() < deadline { usleep(5_000) }
            if child.isRunning {
                kill(child.processIdentifier, SIGKILL)
            }
            child.waitUntilExit()
            let lines = ((try? String(contentsOfFile: report, encoding: .utf8)) ?? "").split(separator: "\n")
            for line in lines where line.hasPrefix("done ") {
                let parts = line.split(separator: " ", maxSplits: 3).map(String.init)
                guard parts.count >= 3, let offset = Int(parts[1]) else { continue }
                switch parts[2] {
                case "identical": outcomes[offset] = .identical
                case "different": outcomes[offset] = .different(parts.count > 3 ? parts[3] : "")
                default: outcomes[offset] = .error(parts.count > 3 ? parts[3] : "")
                }
            }
            pending = pending.drop { outcomes[$0] != nil }
            guard let stuck = pending.first else { break }
            // The child died on `stuck`: a crash if it was the child's first case, else retry it first.
            if stuck == first {
                let how = child.terminationReason == .uncaughtSignal
                    ? "signal \(child.terminationStatus)" : "exit status \(child.terminationStatus)"
                outcomes[stuck] = .crash(how)
                pending = pending.dropFirst()
            }
        }
        return outcomes
    }
}
