import Foundation

/// The safetensors format (Hugging Face): an 8-byte little-endian header length `N`, `N` bytes of
/// UTF-8 JSON, then one data section holding every tensor's bytes, little-endian, row-major:
///
/// ```
/// [N: UInt64 LE][{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}   ][data ...]
/// ```
/// `data_offsets` are `[begin, end)` byte offsets into the data section. The reference implementation
/// pads the JSON with spaces so that `N` (and so the data section's start) is a multiple of 8, writes
/// tensors contiguously in the order of its header (sorted by descending dtype alignment, then name),
/// and rejects files whose tensors leave holes, overlap, or do not end exactly at the end of the file.
///
/// This namespace holds the format's shared pieces: ``DType``, ``TensorInfo``, and header parsing and
/// encoding. ``SafeTensorsFile`` reads a file, ``SafeTensorsDirectory`` a Hugging Face model
/// directory, and ``SafeTensorsWriter`` writes both.
public enum SafeTensors {
    /// Largest header accepted, as in the reference implementation (100 MB).
    public static let maxHeaderBytes = 100_000_000

    /// The header key holding free-form string metadata (`{"format": "pt"}` from PyTorch writers).
    public static let metadataKey = "__metadata__"

    /// An element type, spelled as in the header (`"F32"`, `"BF16"`, ...). Only byte-sized types are
    /// listed; a file using another (e.g. `F4`) fails to open with an error naming the tensor.
    public enum DType: String, Sendable, CaseIterable {
        case bool = "BOOL"
        case u8 = "U8"
        case i8 = "I8"
        case f8E5M2 = "F8_E5M2"
        case f8E4M3 = "F8_E4M3"
        case i16 = "I16"
        case u16 = "U16"
        case f16 = "F16"
        case bf16 = "BF16"
        case i32 = "I32"
        case u32 = "U32"
        case f32 = "F32"
        case f64 = "F64"
        case i64 = "I64"
        case u64 = "U64"

        /// Bytes per element.
        public var size: Int {
            switch self {
            case .bool, .u8, .i8, .f8E5M2, .f8E4M3: 1
            case .i16, .u16, .f16, .bf16: 2
            case .i32, .u32, .f32: 4
            case .f64, .i64, .u64: 8
            }
        }

        /// Whether ``SafeTensorsFile/readFloats(_:)`` converts this type to Float32
        /// (F32, BF16, F16 and F64).
        public var isReadableAsFloat: Bool {
            switch self {
            case .f32, .bf16, .f16, .f64: true
            default: false
            }
        }
    }

    /// One tensor's entry in a header.
    public struct TensorInfo: Sendable, Equatable {
        /// The tensor's name, e.g. `"model.layers.0.self_attn.q_proj.weight"`.
        public let name: String
        /// Its element type as stored.
        public let dtype: DType
        /// Its shape, row-major; `[]` for a scalar.
        public let shape: [Int]
        /// Its bytes, as offsets into the data section (after the header).
        public let dataOffsets: Range<Int>

        public init(name: String, dtype: DType, shape: [Int], dataOffsets: Range<Int>) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.dataOffsets = dataOffsets
        }

        /// The number of elements: the product of ``shape`` (1 for a scalar).
        public var elementCount: Int { shape.reduce(1, *) }
        /// The number of bytes stored: ``elementCount`` times the dtype's size.
        public var byteCount: Int { dataOffsets.count }
    }

    /// A parsed and validated header.
    struct Header {
        /// Every tensor, in data order (ascending offsets).
        var tensors: [TensorInfo]
        /// The `__metadata__` map, or nil if the header has none.
        var metadata: [String: String]?
        /// The data section's offset in the file: 8 + the header length.
        var dataStart: Int
    }

    // MARK: Parsing

    /// Parses and validates the header of a whole safetensors file held in memory.
    ///
    /// Checks, as the reference implementation does: the header length is at most
    /// ``maxHeaderBytes`` and inside the file; the header is a JSON object (starting with `{`) whose
    /// entries have a known dtype, a shape and two data offsets; each tensor's byte count equals its
    /// element count times its dtype size; the tensors, in offset order, start at 0, follow each other
    /// without holes or overlaps, and end exactly at the end of the file.
    /// - Parameters:
    ///   - file: The file's bytes (typically a memory map).
    ///   - path: The file's path, for errors.
    /// - Throws: ``SafeTensorsError`` naming `path` and, where one is at fault, the tensor.
    static func parseHeader(_ file: UnsafeRawBufferPointer, path: String) throws -> Header {
        func failure(_ reason: String, tensor: String? = nil) -> SafeTensorsError {
            SafeTensorsError(file: path, tensor: tensor, reason: reason)
        }
        guard file.count >= 8 else {
            throw failure("file is \(file.count) bytes, shorter than the 8-byte header length (not a safetensors file?)")
        }
        let declared = UInt64(littleEndian: file.loadUnaligned(as: UInt64.self))
        guard declared <= UInt64(maxHeaderBytes) else {
            throw failure("header length \(declared) exceeds the \(maxHeaderBytes)-byte limit (not a safetensors file?)")
        }
        let headerLength = Int(declared)
        guard 8 + headerLength <= file.count else {
            throw failure("header length \(headerLength) runs past the end of the \(file.count)-byte file (truncated?)")
        }
        let json = UnsafeRawBufferPointer(rebasing: file[8 ..< 8 + headerLength])
        guard json.first == UInt8(ascii: "{") else {
            throw failure("header does not start with '{' (not a safetensors file?)")
        }

        let raw: RawHeader
        do {
            raw = try JSONDecoder().decode(RawHeader.self, from: Data(json))
        } catch let error as DecodingError {
            let (reason, tensor) = describe(error)
            throw failure("invalid header: \(reason)", tensor: tensor)
        } catch {
            throw failure("invalid header: \(error)")
        }

        var tensors: [TensorInfo] = []
        tensors.reserveCapacity(raw.entries.count)
        for (name, entry) in raw.entries {
            guard let dtype = DType(rawValue: entry.dtype) else {
                throw failure("unsupported dtype \"\(entry.dtype)\"", tensor: name)
            }
            guard entry.shape.allSatisfy({ $0 >= 0 }) else {
                throw failure("negative dimension in shape \(entry.shape)", tensor: name)
            }
            guard entry.data_offsets.count == 2,
                  entry.data_offsets[0] >= 0, entry.data_offsets[0] <= entry.data_offsets[1]
            else {
                throw failure("data_offsets \(entry.data_offsets) are not [begin, end] with 0 <= begin <= end", tensor: name)
            }
            var bytes = dtype.size
            for dimension in entry.shape {
                let (product, overflow) = bytes.multipliedReportingOverflow(by: dimension)
                guard !overflow else { throw failure("shape \(entry.shape) is too large", tensor: name) }
                bytes = product
            }
            let offsets = entry.data_offsets[0] ..< entry.data_offsets[1]
            guard offsets.count == bytes else {
                throw failure("data_offsets \(entry.data_offsets) hold \(offsets.count) bytes, but shape "
                              + "\(entry.shape) of \(dtype.rawValue) needs \(bytes)", tensor: name)
            }
            tensors.append(TensorInfo(name: name, dtype: dtype, shape: entry.shape, dataOffsets: offsets))
        }

        tensors.sort { ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound, $0.name)
                       < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound, $1.name) }
        let dataBytes = file.count - 8 - headerLength
        var end = 0
        var previous: String?
        for tensor in tensors {
            let begin = tensor.dataOffsets.lowerBound
            if begin < end {
                throw failure("data_offsets [\(begin), \(tensor.dataOffsets.upperBound)] overlap tensor \(previous!)",
                              tensor: tensor.name)
            }
            if begin > end {
                throw failure("data_offsets [\(begin), \(tensor.dataOffsets.upperBound)] leave a hole: the previous "
                              + "tensor ends at \(end)", tensor: tensor.name)
            }
            if tensor.dataOffsets.upperBound > dataBytes {
                throw failure("data_offsets [\(begin), \(tensor.dataOffsets.upperBound)] run past the end of the "
                              + "\(dataBytes)-byte data section (truncated file?)", tensor: tensor.name)
            }
            end = tensor.dataOffsets.upperBound
            previous = tensor.name
        }
        guard end == dataBytes else {
            throw failure("the tensors cover \(end) bytes but the data section holds \(dataBytes) (trailing bytes?)")
        }
        return Header(tensors: tensors, metadata: raw.metadata, dataStart: 8 + headerLength)
    }

    /// A one-line account of a JSON decoding error, and the tensor it concerns (the first key of its
    /// coding path), if any.
    private static func describe(_ error: DecodingError) -> (reason: String, tensor: String?) {
        let context: DecodingError.Context
        switch error {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c): context = c
        case .keyNotFound(let key, let c):
            return ("missing key \"\(key.stringValue)\"", c.codingPath.first?.stringValue)
        @unknown default: return ("\(error)", nil)
        }
        let path = context.codingPath.map(\.stringValue)
        var reason = context.debugDescription
        if path.count > 1 { reason = "\(path.dropFirst().joined(separator: ".")): " + reason }
        if let underlying = context.underlyingError { reason += " (\(underlying))" }
        if path.first == metadataKey { return ("\(metadataKey): " + reason, nil) }
        return (reason, path.first)
    }

    /// The header as JSON: any number of tensor entries and an optional `__metadata__` string map.
    private struct RawHeader: Decodable {
        var entries: [(String, RawEntry)] = []
        var metadata: [String: String]?

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: AnyKey.self)
            for key in container.allKeys {
                if key.stringValue == SafeTensors.metadataKey {
                    metadata = try container.decode([String: String].self, forKey: key)
                } else {
                    entries.append((key.stringValue, try container.decode(RawEntry.self, forKey: key)))
                }
            }
        }
    }

    private struct RawEntry: Decodable {
        let dtype: String
        let shape: [Int]
        let data_offsets: [Int]

        private enum CodingKeys: String, CodingKey { case dtype, shape, data_offsets }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            dtype = try container.decode(String.self, forKey: .dtype)
            shape = try Self.integers(container, .shape)
            data_offsets = try Self.integers(container, .data_offsets)
        }

        /// An array of integers. Foundation throws an internal error for a number that is not an integer
        /// (e.g. `2.5`), which would surface as "not valid JSON" with no coding path; it is rethrown
        /// naming the key (and so the tensor).
        private static func integers(_ container: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> [Int] {
            do {
                return try container.decode([Int].self, forKey: key)
            } catch let error as DecodingError {
                throw error
            } catch {
                throw DecodingError.typeMismatch([Int].self, DecodingError.Context(
                    codingPath: container.codingPath + [key], debugDescription: "expected an array of integers",
                    underlyingError: error))
            }
        }
    }

    private struct AnyKey: CodingKey {
        let stringValue: String
        init(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    // MARK: Encoding

    /// Encodes a header exactly as the reference implementation does: compact JSON, `__metadata__`
    /// first (its keys sorted), then the tensors in the given order with keys `dtype`, `shape`,
    /// `data_offsets`; padded with spaces to a multiple of 8 bytes.
    /// - Parameters:
    ///   - tensors: The entries, in data order, with offsets already assigned.
    ///   - metadata: The `__metadata__` map, if any.
    /// - Returns: The JSON bytes (without the 8-byte length in front).
    static func encodeHeader(_ tensors: [TensorInfo], metadata: [String: String]?) -> [UInt8] {
        var json = "{"
        var first = true
        if let metadata {
            json += jsonString(metadataKey) + ":{"
            json += metadata.keys.sorted().map { jsonString($0) + ":" + jsonString(metadata[$0]!) }
                .joined(separator: ",")
            json += "}"
            first = false
        }
        for tensor in tensors {
            if !first { json += "," }
            first = false
            json += jsonString(tensor.name) + ":{\"dtype\":" + jsonString(tensor.dtype.rawValue)
            json += ",\"shape\":[" + tensor.shape.map(String.init).joined(separator: ",") + "]"
            json += ",\"data_offsets\":[\(tensor.dataOffsets.lowerBound),\(tensor.dataOffsets.upperBound)]}"
        }
        json += "}"
        var bytes = Array(json.utf8)
        bytes += repeatElement(UInt8(ascii: " "), count: (8 - bytes.count % 8) % 8)
        return bytes
    }

    /// A JSON string literal, escaped as serde_json (the reference's serializer) escapes it: `"` and
    /// `\`, the short escapes `\b \f \n \r \t`, other control characters as `\u00xx`; everything else,
    /// including non-ASCII, verbatim.
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
