import Foundation

/// Why a SentencePiece model could not be loaded. `source` names the file (or the checkpoint dataset) it came from.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    /// The file could not be read.
    case unreadable(source: String, reason: String)
    /// The bytes are not a well-formed SentencePiece `ModelProto`.
    case malformed(source: String, reason: String)
    /// The model is valid but needs a feature this tokenizer does not implement.
    case unsupported(source: String, feature: String)

    public var description: String {
        switch self {
        case .unreadable(let source, let reason):
            return "cannot read tokenizer model \(source): \(reason)"
        case .malformed(let source, let reason):
            return "\(source) is not a valid SentencePiece model: \(reason)"
        case .unsupported(let source, let feature):
            return "\(source): unsupported SentencePiece model: \(feature). Only BPE models with identity "
                + "normalization (as Gemma's tokenizer.model) are supported"
        }
    }
}

/// The type of a vocabulary piece (`ModelProto.SentencePiece.Type`).
public enum PieceType: UInt8, Sendable {
    case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
}

/// The fields of SentencePiece's `ModelProto` that the tokenizer needs (sentencepiece_model.proto, proto2).
/// Absent fields take the proto's defaults; a repeated sub-message is merged into the earlier one, as protobuf does.
struct ModelProto {
    struct Piece {
        var bytes: [UInt8] = []  // field 1, UTF-8
        var score: Float = 0  // field 2
        var type: PieceType = .normal  // field 3
    }

    struct TrainerSpec {
        var modelType: Int = 1  // field 3: UNIGRAM = 1, BPE = 2, WORD = 3, CHAR = 4
        var treatWhitespaceAsSuffix = false  // field 24
        var byteFallback = false  // field 35
        var unkPiece = ""  // field 45 ("" means the default "<unk>")
        var bosPiece = ""  // field 46 ("<s>")
        var eosPiece = ""  // field 47 ("</s>")
        var padPiece = ""  // field 48 ("<pad>")
        var unkSurface = " \u{2047} "  // field 44
    }

    struct NormalizerSpec {
        var name = ""  // field 1
        var precompiledCharsmapSize = 0  // field 2 (bytes; only its presence matters here)
        var addDummyPrefix = true  // field 3
        var removeExtraWhitespaces = true  // field 4
        var escapeWhitespaces = true  // field 5
    }

    var pieces: [Piece] = []  // field 1
    var trainer = TrainerSpec()  // field 2
    var normalizer = NormalizerSpec()  // field 3
    var denormalizer = NormalizerSpec()  // field 5
    var hasDenormalizer = false

    static let modelTypeNames = [1: "UNIGRAM", 2: "BPE", 3: "WORD", 4: "CHAR"]

    /// Parses `bytes`; `source` names them in errors.
    init(bytes: [UInt8], source: String) throws {
        do {
            var reader = WireReader(bytes, 0..<bytes.count)
            while let (field, wire) = try reader.nextTag() {
                switch (field, wire) {
                case (1, .lengthDelimited): pieces.append(try Self.parsePiece(reader.sub()))
                case (2, .lengthDelimited): try Self.mergeTrainer(&trainer, reader.sub())
                case (3, .lengthDelimited): try Self.mergeNormalizer(&normalizer, reader.sub())
                case (5, .lengthDelimited):
                    try Self.mergeNormalizer(&denormalizer, reader.sub())
                    hasDenormalizer = true
                default: try reader.skip(wire)
                }
            }
        } catch let error as WireError {
            throw TokenizerError.malformed(source: source, reason: error.reason)
        }
    }

    private static func parsePiece(_ r: WireReader) throws -> Piece {
        var r = r
        var piece = Piece()
        while let (field, wire) = try r.nextTag() {
            switch (field, wire) {
            case (1, .lengthDelimited): piece.bytes = Array(r.bytes[try r.lengthDelimited()])
            case (2, .fixed32): piece.score = Float(bitPattern: try r.fixed32())
            case (3, .varint):
                let raw = try r.varint()
                guard raw <= 6, let type = PieceType(rawValue: UInt8(raw)) else {
                    throw WireError(reason: "piece type \(raw) is not a SentencePiece.Type")
                }
                piece.type = type
            default: try r.skip(wire)
            }
        }
        return piece
    }

    private static func mergeTrainer(_ spec: inout TrainerSpec, _ r: WireReader) throws {
        var r = r
        while let (field, wire) = try r.nextTag() {
            switch (field, wire) {
            case (3, .varint): spec.modelType = Int(truncatingIfNeeded: try r.varint())
            case (24, .varint): spec.treatWhitespaceAsSuffix = try r.varint() != 0
            case (35, .varint): spec.byteFallback = try r.varint() != 0
            case (44, .lengthDelimited): spec.unkSurface = try r.string()
            case (45, .lengthDelimited): spec.unkPiece = try r.string()
            case (46, .lengthDelimited): spec.bosPiece = try r.string()
            case (47, .lengthDelimited): spec.eosPiece = try r.string()
            case (48, .lengthDelimited): spec.padPiece = try r.string()
            default: try r.skip(wire)
            }
        }
    }

    private static func mergeNormalizer(_ spec: inout NormalizerSpec, _ r: WireReader) throws {
        var r = r
        while let (field, wire) = try r.nextTag() {
            switch (field, wire) {
            case (1, .lengthDelimited): spec.name = try r.string()
            case (2, .lengthDelimited): spec.precompiledCharsmapSize = try r.lengthDelimited().count
            case (3, .varint): spec.addDummyPrefix = try r.varint() != 0
            case (4, .varint): spec.removeExtraWhitespaces = try r.varint() != 0
            case (5, .varint): spec.escapeWhitespaces = try r.varint() != 0
            default: try r.skip(wire)
            }
        }
    }
}

// MARK: - Protobuf wire format

struct WireError: Error {
    var reason: String
}

enum WireType: UInt64 {
    case varint = 0, fixed64 = 1, lengthDelimited = 2, startGroup = 3, endGroup = 4, fixed32 = 5
}

/// A cursor over protobuf wire-format bytes (https://protobuf.dev/programming-guides/encoding/).
struct WireReader {
    let bytes: [UInt8]
    private(set) var position: Int
    let end: Int

    init(_ bytes: [UInt8], _ range: Range<Int>) {
        self.bytes = bytes
        self.position = range.lowerBound
        self.end = range.upperBound
    }

    /// The next field number and wire type, or nil at the end of the message.
    mutating func nextTag() throws -> (Int, WireType)? {
        if position >= end { return nil }
        let key = try varint()
        guard let wire = WireType(rawValue: key & 7) else {
            throw WireError(reason: "invalid wire type \(key & 7) at byte \(position)")
        }
        let field = key >> 3
        guard field > 0, field <= 536_870_911 else { throw WireError(reason: "invalid field number \(field)") }
        return (Int(field), wire)
    }

    mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw WireError(reason: "truncated varint at byte \(position)") }
            guard shift < 64 else { throw WireError(reason: "varint longer than 10 bytes at byte \(position)") }
            let byte = bytes[position]
            position += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    mutating func fixed32() throws -> UInt32 {
        guard end - position >= 4 else { throw WireError(reason: "truncated fixed32 at byte \(position)") }
        var value: UInt32 = 0
        for k in 0..<4 { value |= UInt32(bytes[position + k]) << (8 * k) }
        position += 4
        return value
    }

    /// The byte range of a length-delimited field's payload.
    mutating func lengthDelimited() throws -> Range<Int> {
        let length = try varint()
        guard length <= UInt64(end - position) else {
            throw WireError(reason: "field of \(length) bytes at byte \(position) runs past the end of its message")
        }
        let range = position..<(position + Int(length))
        position = range.upperBound
        return range
    }

    /// A reader over an embedded message.
    mutating func sub() throws -> WireReader {
        WireReader(bytes, try lengthDelimited())
    }

    mutating func string() throws -> String {
        String(decoding: bytes[try lengthDelimited()], as: UTF8.self)
    }

    mutating func skip(_ wire: WireType) throws {
        switch wire {
        case .varint: _ = try varint()
        case .fixed64:
            guard end - position >= 8 else { throw WireError(reason: "truncated fixed64 at byte \(position)") }
            position += 8
        case .lengthDelimited: _ = try lengthDelimited()
        case .fixed32: _ = try fixed32()
        case .startGroup, .endGroup:
            throw WireError(reason: "unexpected group (deprecated wire type) at byte \(position)")
        }
    }
}
