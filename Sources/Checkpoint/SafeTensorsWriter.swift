import Foundation

/// Writes Float32 tensors as a `.safetensors` file (stored as F32, or as BF16 rounded to nearest even),
/// or as a Hugging Face model directory's weights, sharded on request.
///
/// Files are byte-for-byte what the reference implementation (Python `safetensors`) writes for the
/// same tensors and metadata: tensors sorted by name, contiguous; compact header JSON with
/// `__metadata__` first, padded with spaces to a multiple of 8 bytes. Each file is written under a
/// temporary name in its directory, flushed and renamed, so the final name never holds a partial file.
/// At most one tensor's Float32 values are in memory at a time when tensors come from a `fill` closure.
///
/// ```swift
/// let writer = SafeTensorsWriter(dtype: .bf16)     // metadata ["format": "pt"] by default
/// try writer.write([.init(name: "model.norm.weight", shape: [2048], values: norm)], to: "out.safetensors")
/// try writer.writeModel(tensors, toDirectory: "export", maxShardBytes: 2_000_000_000)
/// ```
public struct SafeTensorsWriter {
    /// One named tensor to write: its shape and a source of its Float32 values, row-major.
    public struct Tensor {
        public let name: String
        public let shape: [Int]
        private let source: Source

        private enum Source {
            case values([Float])
            case fill((UnsafeMutableBufferPointer<Float>) throws -> Void)
        }

        /// A tensor whose values are at hand.
        /// - Precondition: `values.count` is the product of `shape`, whose dimensions are not negative.
        public init(name: String, shape: [Int], values: [Float]) {
            precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape) for \(name)")
            precondition(values.count == shape.reduce(1, *),
                         "shape \(shape) needs \(shape.reduce(1, *)) values, got \(values.count) for \(name)")
            self.name = name
            self.shape = shape
            source = .values(values)
        }

        /// A tensor produced when it is written: `fill` gets a zeroed buffer of the shape's element count
        /// to fill (e.g. by gathering a sharded parameter), which is released right after.
        /// - Precondition: `shape`'s dimensions are not negative.
        public init(name: String, shape: [Int], fill: @escaping (UnsafeMutableBufferPointer<Float>) throws -> Void) {
            precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape) for \(name)")
            self.name = name
            self.shape = shape
            source = .fill(fill)
        }

        /// The number of elements.
        public var elementCount: Int { shape.reduce(1, *) }

        /// Calls `body` with the tensor's values.
        func withValues(_ body: (UnsafeBufferPointer<Float>) throws -> Void) throws {
            switch source {
            case .values(let values):
                try values.withUnsafeBufferPointer(body)
            case .fill(let fill):
                let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: elementCount)
                defer { buffer.deallocate() }
                buffer.initialize(repeating: 0)
                try fill(buffer)
                try body(UnsafeBufferPointer(buffer))
            }
        }
    }

    /// The stored element type: `.f32` or `.bf16`.
    public var dtype: SafeTensors.DType
    /// The header's `__metadata__`, or nil for none. `transformers` refuses to load a file whose
    /// `format` is not one of `pt`, `tf`, `flax`, `mlx`, hence the default `["format": "pt"]`.
    public var metadata: [String: String]?

    /// - Parameters:
    ///   - dtype: How values are stored: `.f32` (exact) or `.bf16` (rounded to nearest, ties to even).
    ///   - metadata: The header's `__metadata__`; `["format": "pt"]` by default.
    /// - Precondition: `dtype` is `.f32` or `.bf16`.
    public init(dtype: SafeTensors.DType = .f32, metadata: [String: String]? = ["format": "pt"]) {
        precondition(dtype == .f32 || dtype == .bf16, "SafeTensorsWriter stores F32 or BF16, not \(dtype.rawValue)")
        self.dtype = dtype
        self.metadata = metadata
    }

    // MARK: One file

    /// Writes `tensors` as one safetensors file at `path`, replacing any file there.
    /// - Parameters:
    ///   - tensors: Tensors with distinct, non-empty names other than `__metadata__`, in any order
    ///     (the file holds them sorted by name).
    ///   - path: The file to write.
    /// - Returns: The size of the data section in bytes (all tensors' stored bytes).
    /// - Throws: ``SafeTensorsError`` naming `path` (and the tensor) for a bad name or a failed system
    ///   call; rethrows a `fill` closure's error. The temporary file is removed on any error.
    @discardableResult
    public func write(_ tensors: [Tensor], to path: String) throws -> Int {
        try checkNames(tensors, path: path)
        let ordered = tensors.sorted { $0.name < $1.name }
        var infos: [SafeTensors.TensorInfo] = []
        var offset = 0
        for tensor in ordered {
            let bytes = tensor.elementCount * dtype.size
            infos.append(SafeTensors.TensorInfo(name: tensor.name, dtype: dtype, shape: tensor.shape,
                                                dataOffsets: offset ..< offset + bytes))
            offset += bytes
        }
        let header = SafeTensors.encodeHeader(infos, metadata: metadata)

        let output = try AtomicFileOutput(path: path)
        var length = UInt64(header.count).littleEndian
        try withUnsafeBytes(of: &length) { try output.write($0) }
        try header.withUnsafeBytes { try output.write($0) }
        let scratchElements = 1 << 20
        let scratch = dtype == .f32 ? nil : UnsafeMutableRawBufferPointer.allocate(
            byteCount: scratchElements * dtype.size, alignment: 64)
        defer { scratch?.deallocate() }
        for tensor in ordered {
            try tensor.withValues { values in
                guard let base = values.baseAddress else { return }
                guard let scratch else { return try output.write(UnsafeRawBufferPointer(values)) }
                var start = 0
                while start < values.count {
                    let count = min(scratchElements, values.count - start)
                    SafeTensors.convertToBFloat16(base + start, count: count, into: scratch.baseAddress!)
                    try output.write(UnsafeRawBufferPointer(rebasing: scratch[..<(count * dtype.size)]))
                    start += count
                }
            }
        }
        try output.commit()
        return offset
    }

    private func checkNames(_ tensors: [Tensor], path: String) throws {
        var seen = Set<String>()
        for tensor in tensors {
            guard !tensor.name.isEmpty, tensor.name != SafeTensors.metadataKey else {
                throw SafeTensorsError(file: path, tensor: tensor.name, reason: "not a valid tensor name")
            }
            guard seen.insert(tensor.name).inserted else {
                throw SafeTensorsError(file: path, tensor: tensor.name, reason: "given twice")
            }
        }
    }

    // MARK: Model directories

    /// Writes `tensors` as a Hugging Face model directory's weights: `model.safetensors`, or, when they
    /// exceed `maxShardBytes`, shards `model-0000N-of-0000M.safetensors` plus
    /// `model.safetensors.index.json` (as `transformers`' `save_pretrained`).
    ///
    /// Tensors fill shards in the given order (a new shard starts when the next tensor would take the
    /// current one past `maxShardBytes`; a larger tensor gets a shard of its own). Each file is written
    /// atomically, the index last; then weight files of an earlier save that the new one does not use
    /// (other shards, a stale index or single file) are removed, so readers never mix two saves.
    /// - Parameters:
    ///   - tensors: Tensors with distinct names, in the order shards should hold them.
    ///   - directory: The model directory, created if missing.
    ///   - maxShardBytes: The largest shard's data size in bytes, or nil for one file.
    /// - Returns: The weight files written (file names, in order, then the index if any).
    /// - Throws: ``SafeTensorsError`` naming the directory or file for any failure.
    @discardableResult
    public func writeModel(_ tensors: [Tensor], toDirectory directory: String, maxShardBytes: Int? = nil) throws -> [String] {
        let folder = URL(fileURLWithPath: directory, isDirectory: true)
        do {
            try Directories.create(directory)
        } catch let error as FileSystemError {
            throw SafeTensorsError(file: directory, reason: "cannot create the directory: \(error.reason)")
        }
        try checkNames(tensors, path: directory)

        var shards: [[Tensor]] = []
        var current: [Tensor] = []
        var currentBytes = 0
        for tensor in tensors {
            let bytes = tensor.elementCount * dtype.size
            if let maxShardBytes, !current.isEmpty, currentBytes + bytes > maxShardBytes {
                shards.append(current)
                current = []
                currentBytes = 0
            }
            current.append(tensor)
            currentBytes += bytes
        }
        shards.append(current)

        var written: [String] = []
        if shards.count == 1 {
            try write(tensors, to: folder.appendingPathComponent(SafeTensorsDirectory.singleFileName).path)
            written = [SafeTensorsDirectory.singleFileName]
        } else {
            var weightMap: [(tensor: String, file: String)] = []
            var totalSize = 0
            let totalParameters = tensors.reduce(0) { $0 + $1.elementCount }
            for (index, shard) in shards.enumerated() {
                let name = Self.shardName(index + 1, of: shards.count)
                totalSize += try write(shard, to: folder.appendingPathComponent(name).path)
                weightMap += shard.map { ($0.name, name) }
                written.append(name)
            }
            let indexPath = folder.appendingPathComponent(SafeTensorsDirectory.indexFileName).path
            let index = Array(Self.indexJSON(weightMap, totalSize: totalSize, totalParameters: totalParameters).utf8)
            let output = try AtomicFileOutput(path: indexPath)
            try index.withUnsafeBytes { try output.write($0) }
            try output.commit()
            written.append(SafeTensorsDirectory.indexFileName)
        }
        try removeStaleWeights(in: folder, keeping: Set(written))
        return written
    }

    /// `model-00002-of-00003.safetensors`.
    static func shardName(_ number: Int, of count: Int) -> String {
        func fiveDigits(_ n: Int) -> String {
            let digits = String(n)
            return String(repeating: "0", count: max(0, 5 - digits.count)) + digits
        }
        return "model-\(fiveDigits(number))-of-\(fiveDigits(count)).safetensors"
    }

    /// The index as `transformers` (5.x) writes it: `json.dumps(index, indent=2, sort_keys=True) + "\n"`
    /// with `metadata` holding `total_parameters` (elements) and `total_size` (bytes of tensor data).
    static func indexJSON(_ weightMap: [(tensor: String, file: String)], totalSize: Int, totalParameters: Int) -> String {
        let entries = weightMap.sorted { $0.tensor < $1.tensor }
            .map { "    \(pythonJSONString($0.tensor)): \(pythonJSONString($0.file))" }
        return "{\n  \"metadata\": {\n    \"total_parameters\": \(totalParameters),\n    \"total_size\": \(totalSize)\n  },\n"
            + "  \"weight_map\": {\n" + entries.joined(separator: ",\n") + "\n  }\n}\n"
    }

    /// A JSON string as Python's `json.dumps` writes it (ASCII only: other characters as `\uXXXX`).
    private static func pythonJSONString(_ text: String) -> String {
        var out = "\""
        for unit in text.utf16 {
            switch unit {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x08: out += "\\b"
            case 0x0C: out += "\\f"
            case 0x20 ..< 0x7F: out.unicodeScalars.append(Unicode.Scalar(unit)!)
            default:
                let hex = String(unit, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            }
        }
        return out + "\""
    }

    /// Removes `model.safetensors`, `model.safetensors.index.json` and `model-NNNNN-of-NNNNN.safetensors`
    /// files in `folder` that are not in `keeping`.
    private func removeStaleWeights(in folder: URL, keeping: Set<String>) throws {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        } catch {
            throw SafeTensorsError(file: folder.path, reason: "cannot list the directory: \(FileSystemError.reason(of: error))")
        }
        for name in names where !keeping.contains(name) && Self.isWeightFileName(name) {
            do {
                try FileManager.default.removeItem(at: folder.appendingPathComponent(name))
            } catch {
                throw SafeTensorsError(file: folder.appendingPathComponent(name).path,
                                       reason: "cannot remove this stale weight file: \(FileSystemError.reason(of: error))")
            }
        }
    }

    /// Whether `name` is a weight file name that ``writeModel(_:toDirectory:maxShardBytes:)`` writes.
    static func isWeightFileName(_ name: String) -> Bool {
        if name == SafeTensorsDirectory.singleFileName || name == SafeTensorsDirectory.indexFileName { return true }
        let parts = Array(name.utf8)
        let pattern = Array("model-#####-of-#####.safetensors".utf8)
        guard parts.count == pattern.count else { return false }
        return zip(parts, pattern).allSatisfy { part, expected in
            expected == UInt8(ascii: "#") ? (UInt8(ascii: "0") ... UInt8(ascii: "9")).contains(part) : part == expected
        }
    }
}
