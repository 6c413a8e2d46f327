import Checkpoint
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A TensorBoard event file, `<run dir>/events.out.tfevents.<unix time>.<hostname>`, written without a
/// protobuf library: TFRecord framing around hand-encoded `Event` messages.
///
/// Each record is `uint64 length (LE)`, `uint32 masked CRC-32C of those 8 bytes`, `data`,
/// `uint32 masked CRC-32C of data` (see ``CRC32C/mask(_:)``). The data is an `Event`:
///
///     Event      { double wall_time = 1; int64 step = 2; string file_version = 3;
///                  Summary summary = 5; SessionLog session_log = 7; }
///     Summary    { repeated Value value = 1; }
///     Value      { string tag = 1; float simple_value = 2; }
///     SessionLog { Status status = 1; }   // START = 1
///
/// The first record carries `file_version = "brain.Event:2"`; each ``append(_:wallTime:)`` then writes
/// one event holding all of a step's scalars, as one `write(2)`. Tags are the `metrics.jsonl` keys
/// (`loss`, `lr`, `grad_norm`, `tokens`, `tokens_per_s`, `elapsed_s`, then the extras).
public final class TensorBoardWriter {
    /// The file written.
    public let url: URL
    private let file: AppendFile
    /// The record being built, reused from step to step.
    private var record: [UInt8] = []

    /// Creates a new event file in `directory` (creating the directory too) and writes its header event.
    /// - Parameters:
    ///   - directory: The run directory.
    ///   - resumingAfter: On resume, the checkpoint's step: a `SessionLog START` event at the next step
    ///     makes TensorBoard drop the earlier files' events of later steps, which the resumed run repeats.
    ///   - wallTime: Seconds since 1970 of the header (the file name's time); now by default.
    /// - Throws: ``MetricsError`` naming the file.
    public init(directory: URL, resumingAfter step: Int? = nil, wallTime: Double? = nil) throws {
        let time = wallTime ?? Date().timeIntervalSince1970
        do { try Directories.create(directory.path) } catch let error as FileSystemError {
            throw MetricsError(file: directory.path, reason: "cannot create directory: \(error.reason)")
        }
        // Two writers in one second on one host (a quick restart) must not share a file.
        let base = directory.appendingPathComponent("events.out.tfevents.\(Int(time)).\(Self.hostName())").path
        var attempt = 0
        while true {
            let path = attempt == 0 ? base : "\(base).\(attempt)"
            do {
                file = try AppendFile(path: path, exclusive: true)
                url = URL(fileURLWithPath: path)
                break
            } catch let error as MetricsError where error.errno == EEXIST && attempt < 100 {
                attempt += 1
            }
        }
        record.reserveCapacity(512)
        try write(wallTime: time, step: nil) { e in
            Self.bytesField(3, Array("brain.Event:2".utf8), &e)
        }
        if let step {
            try write(wallTime: time, step: step + 1) { e in
                Self.messageField(7, &e) { Self.varintField(1, 1, &$0) }  // SessionLog { status: START }
            }
        }
    }

    /// Appends one event at `record.step` holding every scalar of `record` (Float32, as TensorBoard keeps
    /// them).
    /// - Parameters:
    ///   - record: The step's values.
    ///   - wallTime: Seconds since 1970; now by default.
    /// - Throws: ``MetricsError`` naming the file.
    public func append(_ record: StepRecord, wallTime: Double? = nil) throws {
        try write(wallTime: wallTime ?? Date().timeIntervalSince1970, step: record.step) { e in
            Self.messageField(5, &e) { s in
                Self.scalar("loss", record.loss, &s)
                Self.scalar("lr", record.lr, &s)
                Self.scalar("grad_norm", record.gradNorm, &s)
                Self.scalar("tokens", Float(record.tokens), &s)
                Self.scalar("tokens_per_s", Float(record.tokensPerSecond), &s)
                Self.scalar("elapsed_s", Float(record.elapsedSeconds), &s)
                for (tag, value) in record.extra { Self.scalar(tag, Float(value), &s) }
            }
        }
    }

    /// Appends one event at `step` holding `scalars` (e.g. an evaluation's results).
    /// - Throws: ``MetricsError`` naming the file.
    public func append(step: Int, scalars: [(String, Float)], wallTime: Double? = nil) throws {
        try write(wallTime: wallTime ?? Date().timeIntervalSince1970, step: step) { e in
            Self.messageField(5, &e) { s in
                for (tag, value) in scalars { Self.scalar(tag, value, &s) }
            }
        }
    }

    /// Flushes (`fsync`) and closes the file; appends after this throw.
    public func close() throws { try file.close() }

    /// Frames the event that `fields` encodes (after wall_time and step) and writes it.
    private func write(wallTime: Double, step: Int?, _ fields: (inout [UInt8]) -> Void) throws {
        record.removeAll(keepingCapacity: true)
        record.append(contentsOf: repeatElement(0, count: 12))  // length and its CRC, filled in below
        record.append(0x09)  // field 1, fixed64
        Self.littleEndian(wallTime.bitPattern, &record)
        if let step { Self.varintField(2, UInt64(step), &record) }
        fields(&record)
        let length = UInt64(record.count - 12)
        record.withUnsafeMutableBytes { r in
            r.storeBytes(of: length.littleEndian, toByteOffset: 0, as: UInt64.self)
            let headerCRC = CRC32C.mask(CRC32C.update(0, UnsafeRawBufferPointer(rebasing: r[0 ..< 8])))
            r.storeBytes(of: headerCRC.littleEndian, toByteOffset: 8, as: UInt32.self)
        }
        let dataCRC = record.withUnsafeBytes { CRC32C.mask(CRC32C.update(0, UnsafeRawBufferPointer(rebasing: $0[12...]))) }
        Self.littleEndian(dataCRC, &record)
        try file.write(record)
    }

    // MARK: Protobuf wire format (https://protobuf.dev/programming-guides/encoding/)

    /// `Value { tag = 1; simple_value = 2 }` as field 1 of a `Summary`.
    private static func scalar(_ tag: String, _ value: Float, _ out: inout [UInt8]) {
        messageField(1, &out) { v in
            bytesField(1, tag.utf8, &v)
            v.append(0x15)  // field 2, fixed32
            littleEndian(value.bitPattern, &v)
        }
    }

    private static func varint(_ x: UInt64, _ out: inout [UInt8]) {
        var x = x
        while x >= 0x80 { out.append(UInt8(x & 0x7F) | 0x80); x >>= 7 }
        out.append(UInt8(x))
    }

    private static func varintField(_ field: UInt64, _ x: UInt64, _ out: inout [UInt8]) {
        varint(field << 3, &out)
        varint(x, &out)
    }

    private static func bytesField(_ field: UInt64, _ bytes: some Collection<UInt8>, _ out: inout [UInt8]) {
        varint(field << 3 | 2, &out)
        varint(UInt64(bytes.count), &out)
        out.append(contentsOf: bytes)
    }

    /// A length-delimited field whose body `body` appends after a 1-byte length slot, widened in place
    /// when the length's varint needs more bytes.
    private static func messageField(_ field: UInt64, _ out: inout [UInt8], _ body: (inout [UInt8]) -> Void) {
        varint(field << 3 | 2, &out)
        let lengthAt = out.count
        out.append(0)
        body(&out)
        var length = out.count - lengthAt - 1
        var width = 1
        while length >> (7 * width) != 0 { width += 1 }
        if width > 1 { out.insert(contentsOf: repeatElement(0, count: width - 1), at: lengthAt + 1) }
        for i in lengthAt ..< lengthAt + width {
            out[i] = UInt8(length & 0x7F) | (i < lengthAt + width - 1 ? 0x80 : 0)
            length >>= 7
        }
    }

    private static func littleEndian<T: FixedWidthInteger>(_ x: T, _ out: inout [UInt8]) {
        withUnsafeBytes(of: x.littleEndian) { out.append(contentsOf: $0) }
    }

    /// `gethostname`, as TensorFlow names event files.
    private static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return name.isEmpty ? "localhost" : name.replacingOccurrences(of: "/", with: "_")
    }
}
