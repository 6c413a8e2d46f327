import Foundation

/// One decoded TensorBoard `Event` (the fields ``TensorBoardWriter`` writes; others are skipped).
public struct TensorBoardEvent: Sendable {
    /// Seconds since 1970.
    public var wallTime: Double
    /// The step (0 when absent, as in the header event).
    public var step: Int
    /// `"brain.Event:2"` in a file's first event, else nil.
    public var fileVersion: String?
    /// The summary's `simple_value` scalars, in file order.
    public var scalars: [(tag: String, value: Float)]
    /// Whether the event is a `SessionLog` with status START (a resumed run's restart marker).
    public var sessionStart: Bool

    /// The value of the scalar tagged `tag`, if present.
    public func scalar(_ tag: String) -> Float? { scalars.first { $0.tag == tag }?.value }
}

/// Reads TensorBoard event files (TFRecord framing, both CRCs verified) back into events: the test
/// side of ``TensorBoardWriter``, also usable on files other tools write (their non-scalar summaries are
/// skipped).
public enum TensorBoardReader {
    /// The events of the file at `url`.
    /// - Throws: ``MetricsError`` naming the file and the record (0-based) on a CRC mismatch, a
    ///   truncated record or a malformed event.
    public static func events(at url: URL) throws -> [TensorBoardEvent] {
        let file = url.path
        guard let data = FileManager.default.contents(atPath: file) else {
            throw MetricsError(file: file, reason: "cannot read file")
        }
        return try records(in: [UInt8](data), file: file).enumerated().map { index, payload in
            do { return try decodeEvent(payload) } catch let error as DecodeError {
                throw MetricsError(file: file, record: index, reason: "malformed event: \(error.message)")
            }
        }
    }

    /// Splits TFRecord bytes into their payloads, verifying each record's length CRC and data CRC.
    /// - Parameters:
    ///   - bytes: The whole file.
    ///   - file: The file's name, for errors.
    /// - Throws: ``MetricsError`` naming `file` and the record on a mismatch or truncation.
    public static func records(in bytes: [UInt8], file: String) throws -> [ArraySlice<UInt8>] {
        var out: [ArraySlice<UInt8>] = []
        var at = 0
        while at < bytes.count {
            let index = out.count
            func fail(_ reason: String) -> MetricsError { MetricsError(file: file, record: index, reason: reason) }
            guard bytes.count - at >= 12 else {
                throw fail("truncated: \(bytes.count - at) of 12 header bytes at offset \(at)")
            }
            let (length, lengthCRC) = bytes.withUnsafeBytes { r in
                (UInt64(littleEndian: r.loadUnaligned(fromByteOffset: at, as: UInt64.self)),
                 UInt32(littleEndian: r.loadUnaligned(fromByteOffset: at + 8, as: UInt32.self)))
            }
            guard CRC32C.mask(CRC32C.checksum(bytes[at ..< at + 8])) == lengthCRC else {
                throw fail("length CRC mismatch at offset \(at)")
            }
            let available = bytes.count - at - 12
            guard length <= UInt64(max(available - 4, 0)), available >= 4 else {
                throw fail("truncated: record of \(length) data bytes, \(max(available - 4, 0)) present at offset \(at)")
            }
            let data = bytes[at + 12 ..< at + 12 + Int(length)]
            let dataCRC = bytes.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: data.endIndex, as: UInt32.self)) }
            guard CRC32C.mask(CRC32C.checksum(data)) == dataCRC else {
                throw fail("data CRC mismatch at offset \(at)")
            }
            out.append(data)
            at = data.endIndex + 4
        }
        return out
    }

    struct DecodeError: Error { let message: String }

    /// Decodes one `Event` message.
    static func decodeEvent(_ bytes: ArraySlice<UInt8>) throws -> TensorBoardEvent {
        var event = TensorBoardEvent(wallTime: 0, step: 0, fileVersion: nil, scalars: [], sessionStart: false)
        var r = ProtoReader(bytes)
        while let (field, wire) = try r.next() {
            switch (field, wire) {
            case (1, 1): event.wallTime = Double(bitPattern: try r.fixed64())
            case (2, 0): event.step = Int(truncatingIfNeeded: try r.varint())
            case (3, 2): event.fileVersion = String(decoding: try r.bytes(), as: UTF8.self)
            case (5, 2):
                var summary = ProtoReader(try r.bytes())
                while let (f, w) = try summary.next() {
                    guard f == 1, w == 2 else { try summary.skip(w); continue }
                    var value = ProtoReader(try summary.bytes())
                    var tag = "", simple: Float?
                    while let (vf, vw) = try value.next() {
                        switch (vf, vw) {
                        case (1, 2): tag = String(decoding: try value.bytes(), as: UTF8.self)
                        case (2, 5): simple = Float(bitPattern: try value.fixed32())
                        default: try value.skip(vw)
                        }
                    }
                    if let simple { event.scalars.append((tag, simple)) }
                }
            case (7, 2):
                var log = ProtoReader(try r.bytes())
                while let (f, w) = try log.next() {
                    if f == 1, w == 0 { event.sessionStart = try log.varint() == 1 } else { try log.skip(w) }
                }
            default: try r.skip(wire)
            }
        }
        return event
    }
}

/// A cursor over protobuf wire-format bytes.
private struct ProtoReader {
    var rest: ArraySlice<UInt8>
    init(_ bytes: ArraySlice<UInt8>) { rest = bytes }

    /// The next field's number and wire type, or nil at the end.
    mutating func next() throws -> (UInt64, UInt64)? {
        guard !rest.isEmpty else { return nil }
        let key = try varint()
        return (key >> 3, key & 7)
    }

    mutating func varint() throws -> UInt64 {
        var x: UInt64 = 0
        for shift in stride(from: 0, to: 64, by: 7) {
            guard let b = rest.popFirst() else { throw TensorBoardReader.DecodeError(message: "truncated varint") }
            x |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return x }
        }
        throw TensorBoardReader.DecodeError(message: "varint longer than 10 bytes")
    }

    mutating func fixed64() throws -> UInt64 { try fixed(8) }
    mutating func fixed32() throws -> UInt32 { UInt32(try fixed(4)) }

    private mutating func fixed(_ n: Int) throws -> UInt64 {
        guard rest.count >= n else { throw TensorBoardReader.DecodeError(message: "truncated fixed\(n * 8)") }
        var x: UInt64 = 0
        for (i, b) in rest.prefix(n).enumerated() { x |= UInt64(b) << (8 * i) }
        rest = rest.dropFirst(n)
        return x
    }

    mutating func bytes() throws -> ArraySlice<UInt8> {
        let n = try varint()
        guard n <= UInt64(rest.count) else {
            throw TensorBoardReader.DecodeError(message: "field of \(n) bytes, \(rest.count) left")
        }
        defer { rest = rest.dropFirst(Int(n)) }
        return rest.prefix(Int(n))
    }

    mutating func skip(_ wire: UInt64) throws {
        switch wire {
        case 0: _ = try varint()
        case 1: _ = try fixed(8)
        case 2: _ = try bytes()
        case 5: _ = try fixed(4)
        default: throw TensorBoardReader.DecodeError(message: "unsupported wire type \(wire)")
        }
    }
}
