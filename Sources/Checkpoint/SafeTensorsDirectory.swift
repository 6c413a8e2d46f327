import Foundation

/// The weights of a Hugging Face model directory: either one `model.safetensors`, or shards
/// `model-0000N-of-0000M.safetensors` listed by `model.safetensors.index.json`, whose `weight_map`
/// maps each tensor name to its shard's file name. The index wins when both are present (as in
/// `transformers`).
///
/// Every file is opened (mapped, header validated) up front, and every tensor the index lists is
/// checked to be in its shard, so a damaged or incomplete directory fails here, with an error naming
/// the directory, file and tensor, before any weight is read. Tensors in a shard that the index does
/// not list are ignored, as `transformers` ignores them.
///
/// ```swift
/// let weights = try SafeTensorsDirectory(path: "gemma-2b")
/// let embedding = try weights.readFloats("model.embed_tokens.weight")  // converted from BF16
/// ```
public final class SafeTensorsDirectory: @unchecked Sendable {  // immutable after init
    /// The file name of an unsharded model's weights.
    public static let singleFileName = "model.safetensors"
    /// The file name of a sharded model's index.
    public static let indexFileName = "model.safetensors.index.json"

    /// The directory's path as it was given; errors about the directory name it.
    public let path: String
    /// The open files: the single file, or the shards sorted by file name.
    public let files: [SafeTensorsFile]
    /// Every tensor's name, sorted.
    public let names: [String]

    private let fileByName: [String: SafeTensorsFile]

    /// Opens the weights in the model directory at `path`.
    /// - Throws: ``SafeTensorsError`` if the directory has neither `model.safetensors` nor
    ///   `model.safetensors.index.json`, if the index is malformed or names a file outside the
    ///   directory, if a file fails to open or validate, or if a listed tensor is not in its shard.
    public init(path: String) throws {
        self.path = path
        let directory = URL(fileURLWithPath: path, isDirectory: true)
        let indexPath = directory.appendingPathComponent(Self.indexFileName).path
        let singlePath = directory.appendingPathComponent(Self.singleFileName).path
        let manager = FileManager.default

        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw SafeTensorsError(file: path, reason: "not a directory")
        }

        if manager.fileExists(atPath: indexPath) {
            let weightMap = try Self.readWeightMap(indexPath)
            var shards: [String: SafeTensorsFile] = [:]
            for shardName in Set(weightMap.values).sorted() {
                shards[shardName] = try SafeTensorsFile(path: directory.appendingPathComponent(shardName).path)
            }
            var fileByName: [String: SafeTensorsFile] = [:]
            for (tensor, shardName) in weightMap {
                let shard = shards[shardName]!
                guard shard.contains(tensor) else {
                    throw SafeTensorsError(file: shard.path, tensor: tensor,
                                           reason: "listed in \(Self.indexFileName) but not in this file")
                }
                fileByName[tensor] = shard
            }
            self.files = shards.keys.sorted().map { shards[$0]! }
            self.fileByName = fileByName
        } else if manager.fileExists(atPath: singlePath) {
            let file = try SafeTensorsFile(path: singlePath)
            self.files = [file]
            self.fileByName = Dictionary(uniqueKeysWithValues: file.names.map { ($0, file) })
        } else {
            throw SafeTensorsError(file: path, reason: "no \(Self.singleFileName) or \(Self.indexFileName) in this directory")
        }
        names = fileByName.keys.sorted()
    }

    /// Reads `weight_map` from an index file, checking that every shard is a plain file name.
    private static func readWeightMap(_ indexPath: String) throws -> [String: String] {
        struct Index: Decodable { let weight_map: [String: String] }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: indexPath))
        } catch {
            throw SafeTensorsError(file: indexPath, reason: "cannot be read: \(FileSystemError.reason(of: error))")
        }
        let index: Index
        do {
            index = try JSONDecoder().decode(Index.self, from: data)
        } catch let error as DecodingError {
            throw SafeTensorsError(file: indexPath, reason: "invalid index: \(error.summary)")
        }
        for (tensor, shard) in index.weight_map
        where shard.isEmpty || shard.contains("/") || shard == "." || shard == ".." {
            throw SafeTensorsError(file: indexPath, tensor: tensor,
                                   reason: "shard \"\(shard)\" is not a file name in this directory")
        }
        return index.weight_map
    }

    /// Whether the directory holds a tensor called `name`.
    public func contains(_ name: String) -> Bool { fileByName[name] != nil }

    /// The file holding the tensor called `name`.
    /// - Throws: ``SafeTensorsError`` naming the directory and tensor if there is none.
    public func file(containing name: String) throws -> SafeTensorsFile {
        guard let file = fileByName[name] else {
            throw SafeTensorsError(file: path, tensor: name, reason: "no such tensor (the directory holds \(names.count))")
        }
        return file
    }

    /// The entry (dtype, shape, offsets) of the tensor called `name`.
    /// - Throws: ``SafeTensorsError`` naming the directory and tensor if there is none.
    public func info(_ name: String) throws -> SafeTensors.TensorInfo {
        try file(containing: name).info(name)
    }

    /// Reads a tensor as Float32; see ``SafeTensorsFile/readFloats(_:)``.
    public func readFloats(_ name: String) throws -> [Float] {
        try file(containing: name).readFloats(name)
    }

    /// Reads a tensor as Float32 into `destination`; see ``SafeTensorsFile/readFloats(_:into:)``.
    public func readFloats(_ name: String, into destination: UnsafeMutableBufferPointer<Float>) throws {
        try file(containing: name).readFloats(name, into: destination)
    }
}
