import Checkpoint
import Foundation

/// A SentencePiece BPE tokenizer (Gemma's `tokenizer.model`), reading the model file itself and producing the same
/// ids as the `sentencepiece` library.
///
/// Encoding follows `bpe_model.cc`: the text is normalized (`' '` -> U+2581, plus `add_dummy_prefix` and
/// `remove_extra_whitespaces` when the model sets them; Gemma sets neither), split into Unicode scalars, with
/// USER_DEFINED pieces (such as `<start_of_turn>`) matched first, longest first, and never merged; then the adjacent
/// pair whose concatenation is a piece with the highest score is merged (ties: the leftmost) until none is left.
/// A symbol that is not a piece becomes the byte pieces `<0xXX>` of its UTF-8 bytes (`byte_fallback`), or `<unk>`.
///
/// ```swift
/// let tokenizer = try SentencePieceTokenizer(contentsOf: URL(fileURLWithPath: "tokenizer.model"))
/// let ids = tokenizer.encode("Hello world")      // no <bos>/<eos>
/// tokenizer.decode(ids)                            // "Hello world"
/// ```
///
/// Only what Gemma needs is implemented: BPE models whose normalizer has no precompiled character map (identity).
/// Other models are rejected when loaded, with an error naming the file.
public final class SentencePieceTokenizer: Sendable {
    /// The model file's bytes, as read (checkpoints store them under `/tokenizer/model`).
    public let modelData: Data
    /// Where the model came from (a path, or what the caller said), used in error messages.
    public let source: String

    /// The number of pieces; ids are `0..<vocabularySize`.
    public var vocabularySize: Int { types.count }
    /// The id of the unknown piece (`<unk>`).
    public let unkId: Int32
    /// The id of the beginning-of-sequence control piece, if the model has one (Gemma: `<bos>` = 2).
    public let bosId: Int32?
    /// The id of the end-of-sequence control piece, if the model has one (Gemma: `<eos>` = 1).
    public let eosId: Int32?
    /// The id of the padding control piece, if the model has one (Gemma: `<pad>` = 0).
    public let padId: Int32?

    let types: [PieceType]
    let scores: [Float]
    let pieceBlob: [UInt8]  // all pieces' UTF-8 bytes, concatenated
    let pieceOffsets: [Int32]  // piece i is pieceBlob[pieceOffsets[i]..<pieceOffsets[i + 1]]
    let table: PieceTable
    let userDefined: PrefixMatcher
    let byteIds: [Int32]  // byte value -> id of its `<0xXX>` piece (empty without byte fallback)
    let byteValues: [UInt8]  // id -> byte value, for BYTE pieces
    let byteFallback: Bool
    let addDummyPrefix: Bool
    let removeExtraWhitespaces: Bool
    let escapeWhitespaces: Bool
    let hasUnusedPieces: Bool
    /// No mergeable piece has U+2581 after another character, so no merge crosses the start of a `▁word`
    /// (true of models trained with split_by_whitespace): long texts can be merged in independent chunks.
    let mergesStopAtSpaces: Bool
    let unkSurface: [UInt8]

    /// Loads a model file.
    /// - Throws: `TokenizerError` naming the file if it cannot be read, is not a SentencePiece model, or needs a
    ///   feature this tokenizer does not implement.
    public convenience init(contentsOf url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw TokenizerError.unreadable(source: url.path, reason: FileSystemError.reason(of: error))
        }
        try self.init(data: data, source: url.path)
    }

    /// Loads a model from its bytes (e.g. the `/tokenizer/model` dataset of a checkpoint).
    /// - Parameters:
    ///   - data: a serialized SentencePiece `ModelProto`.
    ///   - source: what to call the model in error messages.
    public init(data: Data, source: String = "SentencePiece model data") throws {
        let proto = try ModelProto(bytes: [UInt8](data), source: source)
        let trainer = proto.trainer
        let normalizer = proto.normalizer

        guard trainer.modelType == 2 else {
            let name = ModelProto.modelTypeNames[trainer.modelType] ?? "\(trainer.modelType)"
            throw TokenizerError.unsupported(source: source, feature: "model_type \(name) (only BPE is implemented)")
        }
        guard normalizer.precompiledCharsmapSize == 0 else {
            throw TokenizerError.unsupported(
                source: source,
                feature: "normalizer '\(normalizer.name)' with a precompiled character map "
                    + "(\(normalizer.precompiledCharsmapSize) bytes; only identity normalization is implemented)")
        }
        guard !proto.hasDenormalizer || proto.denormalizer.precompiledCharsmapSize == 0 else {
            throw TokenizerError.unsupported(source: source, feature: "a denormalizer with a precompiled character map")
        }
        guard !trainer.treatWhitespaceAsSuffix else {
            throw TokenizerError.unsupported(source: source, feature: "treat_whitespace_as_suffix")
        }
        guard !proto.pieces.isEmpty, proto.pieces.count < Int32.max else {
            throw TokenizerError.malformed(source: source, reason: "the model has \(proto.pieces.count) pieces")
        }

        // As SentencePiece's ModelInterface::InitializePieces.
        var table = PieceTable(capacity: proto.pieces.count)
        var types: [PieceType] = []
        var scores: [Float] = []
        var blob: [UInt8] = []
        var offsets: [Int32] = [0]
        var userDefinedKeys: [[UInt8]] = []
        var unk: Int32 = -1
        var byteIds = [Int32](repeating: -1, count: 256)
        var byteValues = [UInt8](repeating: 0, count: proto.pieces.count)
        var hasUnused = false
        var mergesStopAtSpaces = normalizer.escapeWhitespaces
        types.reserveCapacity(proto.pieces.count)
        scores.reserveCapacity(proto.pieces.count)
        for (index, piece) in proto.pieces.enumerated() {
            let id = Int32(index)
            var text: String { String(decoding: piece.bytes, as: UTF8.self) }  // for error messages
            guard !piece.bytes.isEmpty else {
                throw TokenizerError.malformed(source: source, reason: "piece \(id) is empty")
            }
            guard !piece.bytes.contains(0) else {
                throw TokenizerError.malformed(source: source, reason: "piece \(id) contains a NUL character")
            }
            let isNormal = piece.type == .normal || piece.type == .userDefined || piece.type == .unused
            guard table.insert(piece.bytes, id: id, normal: isNormal) else {
                throw TokenizerError.malformed(source: source, reason: "piece \(id) \"\(text)\" is already defined")
            }
            switch piece.type {
            case .userDefined: userDefinedKeys.append(piece.bytes)
            case .unknown:
                guard unk < 0 else {
                    throw TokenizerError.malformed(source: source, reason: "two unknown pieces (\(unk) and \(id))")
                }
                unk = id
            case .byte:
                guard trainer.byteFallback else {
                    throw TokenizerError.malformed(
                        source: source, reason: "byte piece \(text) is present although byte_fallback is false")
                }
                guard let value = Self.byteValue(of: piece.bytes) else {
                    throw TokenizerError.malformed(source: source, reason: "byte piece \"\(text)\" is invalid")
                }
                byteIds[Int(value)] = id
                byteValues[index] = value
            case .unused: hasUnused = true
            case .normal, .control: break
            }
            if isNormal && mergesStopAtSpaces && Self.hasSpaceAfterCharacter(piece.bytes) { mergesStopAtSpaces = false }
            types.append(piece.type)
            scores.append(piece.score)
            blob.append(contentsOf: piece.bytes)
            offsets.append(Int32(blob.count))
        }
        guard unk >= 0 else {
            throw TokenizerError.malformed(source: source, reason: "the model has no unknown (<unk>) piece")
        }
        if trainer.byteFallback, let missing = byteIds.firstIndex(of: -1) {
            throw TokenizerError.malformed(
                source: source,
                reason: "byte_fallback is true but the byte piece <0x\(String(format: "%02X", missing))> is missing")
        }

        self.modelData = data
        self.source = source
        self.types = types
        self.scores = scores
        self.pieceBlob = blob
        self.pieceOffsets = offsets
        self.table = table
        self.userDefined = PrefixMatcher(userDefinedKeys)
        self.byteIds = trainer.byteFallback ? byteIds : []
        self.byteValues = byteValues
        self.byteFallback = trainer.byteFallback
        self.addDummyPrefix = normalizer.addDummyPrefix
        self.removeExtraWhitespaces = normalizer.removeExtraWhitespaces
        self.escapeWhitespaces = normalizer.escapeWhitespaces
        self.hasUnusedPieces = hasUnused
        self.mergesStopAtSpaces = mergesStopAtSpaces
        self.unkSurface = Array(trainer.unkSurface.utf8)
        self.unkId = unk

        // As SentencePieceProcessor::bos_id() etc.: the id of the named piece, if it has the expected type.
        func special(_ name: String, _ fallback: String, _ type: PieceType) -> Int32? {
            let id = Self.pieceToId(table, Array((name.isEmpty ? fallback : name).utf8), unk: unk)
            return types[Int(id)] == type ? id : nil
        }
        self.bosId = special(trainer.bosPiece, "<s>", .control)
        self.eosId = special(trainer.eosPiece, "</s>", .control)
        self.padId = special(trainer.padPiece, "<pad>", .control)
    }

    // MARK: Vocabulary

    /// The id of `piece` (e.g. `"<start_of_turn>"`, `"▁the"`), or nil if the vocabulary has no such piece.
    public func id(of piece: String) -> Int32? {
        guard let entry = table.lookup(Array(piece.utf8)) else { return nil }
        return entry.reserved >= 0 ? entry.reserved : entry.normal
    }

    /// The piece of `id` (spaces appear as U+2581), or nil if `id` is out of range.
    public func piece(of id: Int32) -> String? {
        guard id >= 0, Int(id) < types.count else { return nil }
        return String(decoding: pieceBytes(Int(id)), as: UTF8.self)
    }

    /// The type of `id`'s piece, or nil if `id` is out of range.
    public func pieceType(of id: Int32) -> PieceType? {
        guard id >= 0, Int(id) < types.count else { return nil }
        return types[Int(id)]
    }

    /// The score of `id`'s piece (BPE merge priority: higher merges first), or nil if `id` is out of range.
    public func score(of id: Int32) -> Float? {
        guard id >= 0, Int(id) < types.count else { return nil }
        return scores[Int(id)]
    }

    @inline(__always)
    func pieceBytes(_ id: Int) -> ArraySlice<UInt8> {
        pieceBlob[Int(pieceOffsets[id])..<Int(pieceOffsets[id + 1])]
    }

    /// SentencePiece's `PieceToId`: reserved pieces (CONTROL, UNKNOWN, BYTE) first, then the others, else `<unk>`.
    static func pieceToId(_ table: PieceTable, _ key: [UInt8], unk: Int32) -> Int32 {
        guard let entry = table.lookup(key) else { return unk }
        return entry.reserved >= 0 ? entry.reserved : (entry.normal >= 0 ? entry.normal : unk)
    }

    /// True if `piece` has a U+2581 right after a character other than U+2581 (such as `"a▁b"`, not `"▁▁ab"`).
    static func hasSpaceAfterCharacter(_ piece: [UInt8]) -> Bool {
        var i = 1
        while i + 3 <= piece.count {
            if piece[i] == 0xE2 && piece[i + 1] == 0x96 && piece[i + 2] == 0x81
                && !(i >= 3 && piece[i - 3] == 0xE2 && piece[i - 2] == 0x96 && piece[i - 1] == 0x81)
            {
                return true
            }
            i += 1
        }
        return false
    }

    /// The byte of a piece spelled exactly `<0xXX>` (upper-case hex digits, as SentencePiece writes them).
    static func byteValue(of piece: [UInt8]) -> UInt8? {
        guard piece.count == 6, piece[0] == UInt8(ascii: "<"), piece[1] == UInt8(ascii: "0"),
              piece[2] == UInt8(ascii: "x"), piece[5] == UInt8(ascii: ">")
        else { return nil }
        func digit(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        guard let hi = digit(piece[3]), let lo = digit(piece[4]) else { return nil }
        return hi << 4 | lo
    }

    // MARK: Decoding

    /// The text of `ids`, as SentencePiece's `DecodeIds`: U+2581 becomes a space, runs of byte pieces are
    /// reassembled into UTF-8 (a byte that does not form a valid character becomes U+FFFD), control pieces
    /// (`<bos>`, `<eos>`, `<pad>`) are dropped and `<unk>` reads " ⁇ ". With `add_dummy_prefix` or
    /// `remove_extra_whitespaces` (not Gemma) the leading space(s) are dropped too. Ids out of range (which
    /// SentencePiece rejects) read as `<unk>`.
    public func decode(_ ids: [Int32]) -> String {
        var text: [UInt8] = []
        text.reserveCapacity(ids.count * 4)
        var pendingBytes: [UInt8] = []
        var isBosWhitespace = true  // SentencePiece's `is_bos_ws`
        var bosWhitespaceSeen = false
        let stripsLeadingSpace = addDummyPrefix || removeExtraWhitespaces
        for id in ids {
            let known = id >= 0 && Int(id) < types.count
            if known && types[Int(id)] == .byte {
                pendingBytes.append(byteValues[Int(id)])
                continue
            }
            Self.appendBytes(pendingBytes, to: &text)
            pendingBytes.removeAll(keepingCapacity: true)
            if bosWhitespaceSeen || !text.isEmpty { isBosWhitespace = false }
            bosWhitespaceSeen = false
            guard known else {
                text.append(contentsOf: unkSurface)
                continue
            }
            switch types[Int(id)] {
            case .control: continue
            case .unknown: text.append(contentsOf: unkSurface)
            default:
                var piece = pieceBytes(Int(id))
                if isBosWhitespace && stripsLeadingSpace && piece.starts(with: Self.spaceSymbol) {
                    piece = piece.dropFirst(3)
                    bosWhitespaceSeen = !removeExtraWhitespaces
                }
                var i = piece.startIndex
                while i < piece.endIndex {
                    if piece[i] == 0xE2 && i + 2 < piece.endIndex && piece[i + 1] == 0x96 && piece[i + 2] == 0x81 {
                        text.append(0x20)
                        i += 3
                    } else {
                        text.append(piece[i])
                        i += 1
                    }
                }
            }
        }
        Self.appendBytes(pendingBytes, to: &text)
        return String(decoding: text, as: UTF8.self)
    }

    static let spaceSymbol: [UInt8] = [0xE2, 0x96, 0x81]  // U+2581 LOWER ONE EIGHTH BLOCK

    /// Appends `bytes` as SentencePiece's decoder does: character by character, each byte that does not start a
    /// valid UTF-8 character replaced by U+FFFD.
    private static func appendBytes(_ bytes: [UInt8], to text: inout [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let length = validUTF8Length(bytes, offset)
            if length == 0 {
                text.append(contentsOf: [0xEF, 0xBF, 0xBD])
                offset += 1
            } else {
                text.append(contentsOf: bytes[offset..<offset + length])
                offset += length
            }
        }
    }

    /// The length of the valid UTF-8 character at `bytes[offset]`, or 0 (string_util::DecodeUTF8's rules).
    private static func validUTF8Length(_ bytes: [UInt8], _ offset: Int) -> Int {
        let available = bytes.count - offset
        let b0 = UInt32(bytes[offset])
        func trail(_ k: Int) -> UInt32? {
            let b = bytes[offset + k]
            return b & 0xC0 == 0x80 ? UInt32(b & 0x3F) : nil
        }
        func valid(_ c: UInt32) -> Bool { c < 0xD800 || (c >= 0xE000 && c <= 0x10FFFF) }
        if b0 < 0x80 { return 1 }
        if available >= 2 && b0 & 0xE0 == 0xC0, let t1 = trail(1) {
            let c = (b0 & 0x1F) << 6 | t1
            return c >= 0x80 && valid(c) ? 2 : 0
        }
        if available >= 3 && b0 & 0xF0 == 0xE0, let t1 = trail(1), let t2 = trail(2) {
            let c = (b0 & 0x0F) << 12 | t1 << 6 | t2
            return c >= 0x800 && valid(c) ? 3 : 0
        }
        if available >= 4 && b0 & 0xF8 == 0xF0, let t1 = trail(1), let t2 = trail(2), let t3 = trail(3) {
            let c = (b0 & 0x07) << 18 | t1 << 12 | t2 << 6 | t3
            return c >= 0x10000 && valid(c) ? 4 : 0
        }
        return 0
    }
}
