/// A `.safetensors` file opened for reading: memory-mapped, its header parsed and validated up front
/// (see ``SafeTensors/parseHeader(_:path:)``), tensors read on demand as Float32.
///
/// F32 tensors are copied, BF16 and F16 (and F64) converted 16 lanes at a time, straight from the
/// mapping into an array or a caller's buffer. The mapping is released with the object. Reading is safe
/// from several threads at once.
///
/// ```swift
/// let file = try SafeTensorsFile(path: "model.safetensors")
/// for tensor in file.tensors { print(tensor.name, tensor.dtype, tensor.shape) }
/// let norm = try file.readFloats("model.norm.weight")          // [Float]
/// try weights.withUnsafeMutableBufferPointer { try file.readFloats("lm_head.weight", into: $0) }
/// ```
public final class SafeTensorsFile: @unchecked Sendable {  // immutable after init
    /// The path the file was opened with; every error names it.
    public let path: String
    /// The header's `__metadata__` map (e.g. `["format": "pt"]`); empty if it has none.
    public let metadata: [String: String]
    /// Every tensor's name, dtype, shape and offsets, in the order of their data in the file.
    public let tensors: [SafeTensors.TensorInfo]
    /// Every tensor's name, sorted.
    public let names: [String]

    private let mapping: MappedFile
    private let dataStart: Int
    private let indexByName: [String: Int]

    /// Opens, maps and validates the file at `path`.
    /// - Throws: ``SafeTensorsError`` naming the file (and the tensor at fault, if one is) if it cannot
    ///   be opened or its header is malformed, inconsistent with its size, or uses an unknown dtype.
    public init(path: String) throws {
        self.path = path
        mapping = try MappedFile(path: path)
        let header = try SafeTensors.parseHeader(mapping.bytes, path: path)
        metadata = header.metadata ?? [:]
        tensors = header.tensors
        dataStart = header.dataStart
        names = header.tensors.map(\.name).sorted()
        indexByName = Dictionary(header.tensors.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Whether the file holds a tensor called `name`.
    public func contains(_ name: String) -> Bool { indexByName[name] != nil }

    /// The entry of the tensor called `name`.
    /// - Throws: ``SafeTensorsError`` naming the file and tensor if there is none.
    public func info(_ name: String) throws -> SafeTensors.TensorInfo {
        guard let index = indexByName[name] else {
            throw SafeTensorsError(file: path, tensor: name, reason: "no such tensor (the file holds \(tensors.count))")
        }
        return tensors[index]
    }

    /// Reads a tensor as Float32.
    /// - Parameter name: The tensor's name.
    /// - Returns: Its ``SafeTensors/TensorInfo/elementCount`` elements, row-major.
    /// - Throws: ``SafeTensorsError`` naming the file and tensor if it is missing or its dtype is not
    ///   F32, BF16, F16 or F64.
    public func readFloats(_ name: String) throws -> [Float] {
        let tensor = try floatTensor(name)
        return [Float](unsafeUninitializedCapacity: tensor.elementCount) { buffer, initialized in
            copyFloats(tensor, into: buffer.baseAddress)
            initialized = tensor.elementCount
        }
    }

    /// Reads a tensor as Float32 into `destination`, which must hold exactly its element count.
    /// - Throws: ``SafeTensorsError`` naming the file and tensor if it is missing, its dtype is not
    ///   readable as Float32, or `destination.count` differs from its element count.
    public func readFloats(_ name: String, into destination: UnsafeMutableBufferPointer<Float>) throws {
        let tensor = try floatTensor(name)
        guard destination.count == tensor.elementCount else {
            throw SafeTensorsError(file: path, tensor: name,
                                   reason: "shape \(tensor.shape) has \(tensor.elementCount) elements, "
                                       + "but the destination holds \(destination.count)")
        }
        copyFloats(tensor, into: destination.baseAddress)
    }

    /// Calls `body` with a tensor's stored bytes (little-endian, as in the file), valid only during the
    /// call.
    /// - Throws: ``SafeTensorsError`` if there is no tensor called `name`; rethrows `body`'s errors.
    public func withRawBytes<Result>(of name: String, _ body: (UnsafeRawBufferPointer) throws -> Result) throws -> Result {
        let tensor = try info(name)
        return try body(UnsafeRawBufferPointer(rebasing: mapping.bytes[range(of: tensor)]))
    }

    private func floatTensor(_ name: String) throws -> SafeTensors.TensorInfo {
        let tensor = try info(name)
        guard tensor.dtype.isReadableAsFloat else {
            throw SafeTensorsError(file: path, tensor: name,
                                   reason: "dtype \(tensor.dtype.rawValue) cannot be read as Float32 (F32, BF16, F16 and F64 can)")
        }
        return tensor
    }

    private func range(of tensor: SafeTensors.TensorInfo) -> Range<Int> {
        (dataStart + tensor.dataOffsets.lowerBound) ..< (dataStart + tensor.dataOffsets.upperBound)
    }

    private func copyFloats(_ tensor: SafeTensors.TensorInfo, into destination: UnsafeMutablePointer<Float>?) {
        guard tensor.elementCount > 0, let destination, let base = mapping.bytes.baseAddress else { return }
        SafeTensors.convertToFloat(base + range(of: tensor).lowerBound, dtype: tensor.dtype,
                                   count: tensor.elementCount, into: destination)
    }
}
