import Checkpoint
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `<run dir>/metrics.jsonl`: one JSON object per optimizer step, keys in a fixed order, e.g.
///
///     {"step":20,"loss":3.2144985,"lr":0.0003,"grad_norm":0.87123,"tokens":81920,"tokens_per_s":1234.5,"elapsed_s":66.4}
///
/// Floats are written as Swift prints them (`"\(x)"`, the shortest decimal that reads back as the same
/// value), so `Float("3.2144985")` gives back the loss bit for bit; `Double` extras likewise. A
/// non-finite value (a diverged loss) is written as `null`, which JSON can hold. Each line is one
/// `write(2)`, so a crash loses at most the line being written.
public final class MetricsLog {
    /// The file's name in the run directory.
    public static let fileName = "metrics.jsonl"
    /// The file written.
    public let url: URL
    private let file: AppendFile
    /// The line being built, reused from step to step.
    private var line: [UInt8] = []

    /// Opens (creating if needed) `<directory>/metrics.jsonl` for appending, creating the directory too.
    /// An unfinished last line (a crash mid-write) is cut off first.
    /// - Parameters:
    ///   - directory: The run directory.
    ///   - resumingAfter: On resume, the checkpoint's step: lines of later steps (written after that
    ///     checkpoint, before the run stopped) are removed, so the resumed run does not repeat them.
    /// - Throws: ``MetricsError`` naming the file.
    public init(directory: URL, resumingAfter step: Int? = nil) throws {
        url = directory.appendingPathComponent(Self.fileName)
        do { try Directories.create(directory.path) } catch let error as FileSystemError {
            throw MetricsError(file: directory.path, reason: "cannot create directory: \(error.reason)")
        }
        try Self.cutTail(url.path, after: step)
        file = try AppendFile(path: url.path)
        line.reserveCapacity(256)
    }

    /// Appends `record` as one line.
    /// - Throws: ``MetricsError`` naming the file if an extra key repeats a key, or the write fails.
    public func append(_ record: StepRecord) throws {
        line.removeAll(keepingCapacity: true)
        do { try Self.encode(record, into: &line) } catch let reason as KeyError {
            throw MetricsError(file: url.path, reason: "step \(record.step): \(reason.message)")
        }
        try file.write(line)
    }

    /// Flushes (`fsync`) and closes the file; appends after this throw.
    public func close() throws { try file.close() }

    /// `record` as its JSON line, without the newline.
    /// - Throws: ``MetricsError`` (naming `metrics.jsonl`) if an extra key repeats a key.
    public static func jsonLine(_ record: StepRecord) throws -> String {
        var bytes: [UInt8] = []
        do { try encode(record, into: &bytes) } catch let reason as KeyError {
            throw MetricsError(file: fileName, reason: "step \(record.step): \(reason.message)")
        }
        return String(decoding: bytes.dropLast(), as: UTF8.self)
    }

    private struct KeyError: Error { let message: String }

    /// Appends `record`'s line, newline included, to `out`.
    static func encode(_ record: StepRecord, into out: inout [UInt8]) throws {
        out.append(UInt8(ascii: "{"))
        key("step", &out); out.append(contentsOf: String(record.step).utf8)
        key("loss", &out); number(record.loss, &out)
        key("lr", &out); number(record.lr, &out)
        key("grad_norm", &out); number(record.gradNorm, &out)
        key("tokens", &out); out.append(contentsOf: String(record.tokens).utf8)
        key("tokens_per_s", &out); number(record.tokensPerSecond, &out)
        key("elapsed_s", &out); number(record.elapsedSeconds, &out)
        for (i, (name, value)) in record.extra.enumerated() {
            if StepRecord.fixedKeys.contains(name) || record.extra[..<i].contains(where: { $0.0 == name }) {
                throw KeyError(message: "key \"\(name)\" appears twice")
            }
            key(name, &out); number(value, &out)
        }
        out.append(UInt8(ascii: "}"))
        out.append(UInt8(ascii: "\n"))
    }

    /// `,"name":` (no comma after `{`), the name escaped as a JSON string.
    private static func key(_ name: String, _ out: inout [UInt8]) {
        if out.last != UInt8(ascii: "{") { out.append(UInt8(ascii: ",")) }
        out.append(UInt8(ascii: "\""))
        for b in name.utf8 {
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); out.append(b)
            case 0 ..< 0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: Array("\\u00".utf8))
                out.append(hex[Int(b >> 4)]); out.append(hex[Int(b & 15)])
            default: out.append(b)
            }
        }
        out.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
    }

    /// The shortest round-trip decimal (`1e-05`, `3.2144985`, `5.0` are all JSON numbers), or `null`.
    private static func number<F: BinaryFloatingPoint & CustomStringConvertible>(_ x: F, _ out: inout [UInt8]) {
        if x.isFinite { out.append(contentsOf: x.description.utf8) } else { out.append(contentsOf: "null".utf8) }
    }

    /// Cuts `path` after its last complete line and, with `step`, before its first line of a later step.
    static func cutTail(_ path: String, after step: Int?) throws {
        guard let data = FileManager.default.contents(atPath: path), !data.isEmpty else { return }
        var keep = 0  // bytes kept: whole lines of steps <= `step`
        var start = 0
        let bytes = [UInt8](data)
        while let nl = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
            if let step, let s = leadingStep(bytes[start ..< nl]), s > step { break }
            keep = nl + 1
            start = nl + 1
        }
        guard keep < bytes.count else { return }
        guard truncate(path, off_t(keep)) == 0 else { throw MetricsError.system("truncate", file: path) }
    }

    /// The `N` of a line starting `{"step":N`.
    static func leadingStep(_ line: ArraySlice<UInt8>) -> Int? {
        let prefix = Array(#"{"step":"#.utf8)
        guard line.starts(with: prefix) else { return nil }
        let digits = line.dropFirst(prefix.count).prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        return Int(String(decoding: digits, as: UTF8.self))
    }
}
