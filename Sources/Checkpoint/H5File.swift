import CHDF5
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An open HDF5 file holding Float32 tensors by path (`/params/model.norm.weight`), byte datasets, and
/// string and numeric attributes: the storage layer of checkpoints. Closed when released, or earlier
/// with ``close()``. Extensions add numeric attributes, groups and dataset listing, and block reads
/// and whole-dataset verification.
///
/// Files are written with HDF5 1.10 structures, whose metadata is checksummed: object headers, chunk
/// indexes, and groups that keep their links and attributes in their object headers
/// (``compactCreationList(_:_:object:)``); every dataset with at least one element is chunked with a
/// Fletcher-32 checksum. So a damaged byte fails the read instead of loading silently or crashing.
///
/// ```swift
/// let file = try H5File.create("ckpt.h5")
/// try file.setAttribute("format", "gemma-train")
/// try file.writeFloats(weight, shape: [4, 8], to: "/params/model.norm.weight")
/// try file.close()
/// let (shape, values) = try H5File.open("ckpt.h5").readFloats("/params/model.norm.weight")
/// ```
public final class H5File {
    /// How ``open(_:mode:)`` opens an existing file.
    public enum Mode: Sendable {
        case readOnly
        case readWrite
    }

    /// The path the file was created or opened with; every error names it.
    public let path: String
    /// The HDF5 file id; negative once closed.
    private(set) var id: hid_t

    /// Elements per chunk at most (4 MiB of Float32): large enough for fast I/O, small enough that a
    /// checksum failure points at a small region and HDF5's 4 GiB chunk limit is never near.
    static let maxChunkElements = 1 << 20

    private init(path: String, id: hid_t) {
        self.path = path
        self.id = id
    }

    deinit {
        guard id >= 0 else { return }
        silenceHDF5ErrorPrinting()
        _ = H5Fclose(id)
    }

    /// Creates a file at `path`, replacing any file already there.
    /// - Throws: ``H5Error`` if the file cannot be created.
    public static func create(_ path: String) throws -> H5File {
        silenceHDF5ErrorPrinting()
        let fapl = try fileAccessList(path)
        defer { H5Pclose(fapl) }
        let fcpl = try compactCreationList(gt_h5p_file_create(), path, object: "/")
        defer { H5Pclose(fcpl) }
        let id = try h5Check(H5Fcreate(path, gt_h5f_acc_trunc(), fcpl, fapl), "H5Fcreate", file: path)
        return H5File(path: path, id: id)
    }

    /// The most links or attributes a group keeps in its object header (HDF5's limit for both).
    static let maxCompact: UInt32 = 65535

    /// A creation property list of `listClass` (the file's, for the root group, or a group's) that keeps
    /// the group's links and attributes in its object header, whatever their number.
    ///
    /// HDF5 otherwise moves a group past 8 links or attributes to "dense" storage: names and values in a
    /// fractal heap indexed by a B-tree, where a damaged byte is not always caught: in a group of dense
    /// links it crashed HDF5 1.10 (a segfault or a double free) instead of failing the read. Object
    /// headers are checksummed, so damage there is an error. A link message takes the name's length plus
    /// about 20 bytes and the header grows by checksummed continuation blocks, so hundreds of parameters
    /// per group (Gemma 7B: 254) fit with room to spare. A single attribute larger than a header message
    /// (64 KiB) still goes to dense storage (damage to a 100 KB attribute there was an error, never a
    /// crash, in the same tests).
    static func compactCreationList(_ listClass: hid_t, _ path: String, object: String) throws -> hid_t {
        let list = try h5Check(H5Pcreate(listClass), "H5Pcreate", file: path, object: object)
        do {
            try h5Check(H5Pset_link_phase_change(list, maxCompact, 0), "H5Pset_link_phase_change", file: path, object: object)
            try h5Check(H5Pset_attr_phase_change(list, maxCompact, 0), "H5Pset_attr_phase_change", file: path, object: object)
        } catch {
            H5Pclose(list)
            throw error
        }
        return list
    }

    /// Opens an existing file.
    /// - Parameters:
    ///   - path: The file's path.
    ///   - mode: `.readOnly` (the default) or `.readWrite`.
    /// - Throws: ``H5Error`` if the file is missing or is not a valid HDF5 file.
    public static func open(_ path: String, mode: Mode = .readOnly) throws -> H5File {
        silenceHDF5ErrorPrinting()
        let fapl = try fileAccessList(path)
        defer { H5Pclose(fapl) }
        let flags = mode == .readOnly ? gt_h5f_acc_rdonly() : gt_h5f_acc_rdwr()
        let id = try h5Check(H5Fopen(path, flags, fapl), "H5Fopen", file: path)
        return H5File(path: path, id: id)
    }

    /// File access: new objects in HDF5 1.10 formats (checksummed metadata, large attributes; chunked
    /// datasets indexed by checksummed fixed arrays, where HDF5 1.8's version-1 B-trees have no checksum
    /// and a damaged chunk address can read wrong data), readable by HDF5 1.10 and later; closing the
    /// file closes it for real, even if an id leaked.
    private static func fileAccessList(_ path: String) throws -> hid_t {
        let fapl = try h5Check(H5Pcreate(gt_h5p_file_access()), "H5Pcreate", file: path)
        do {
            try h5Check(H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_V110), "H5Pset_libver_bounds", file: path)
            try h5Check(H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG), "H5Pset_fclose_degree", file: path)
        } catch {
            H5Pclose(fapl)
            throw error
        }
        return fapl
    }

    /// Writes everything buffered for this file to disk.
    /// - Throws: ``H5Error`` if `H5Fflush` fails.
    public func flush() throws {
        silenceHDF5ErrorPrinting()
        try h5Check(H5Fflush(id, H5F_SCOPE_GLOBAL), "H5Fflush", file: path)
    }

    /// Closes the file, reporting errors that releasing it would swallow. Idempotent.
    /// - Throws: ``H5Error`` if `H5Fclose` fails.
    public func close() throws {
        guard id >= 0 else { return }
        silenceHDF5ErrorPrinting()
        let closing = id
        id = -1
        try h5Check(H5Fclose(closing), "H5Fclose", file: path)
    }

    /// Gives up a file that is about to be removed, e.g. after a write failed on a full disk: frees the
    /// space it takes (truncates it to nothing) and closes it, ignoring errors. Idempotent.
    ///
    /// A failed ``close()`` leaves the file open inside HDF5, which then tries to flush it again when
    /// the process exits, and crashes if that fails too; truncating first makes room for the little
    /// metadata HDF5 still writes, so the close succeeds and nothing is left open.
    public func discard() {
        guard id >= 0 else { return }
        silenceHDF5ErrorPrinting()
        let closing = id
        id = -1
        var handle: UnsafeMutableRawPointer?
        if H5Fget_vfd_handle(closing, gt_h5p_default(), &handle) >= 0, let handle {
            _ = ftruncate(handle.load(as: Int32.self), 0)
        }
        _ = H5Fclose(closing)
    }

    /// Writes a new file atomically (``AtomicPath``): `body` fills it under a hidden temporary name, then
    /// it is flushed, closed, `fsync`ed and renamed over `path`. If anything fails the temporary file is
    /// discarded (``discard()``) and removed, and an existing file at `path` is left as it was.
    /// - Throws: What `body` throws, an ``H5Error`` naming `path` (not the temporary name), or a
    ///   ``FileSystemError`` naming `path` if publishing fails.
    public static func write(atomically path: String, _ body: (H5File) throws -> Void) throws {
        try AtomicPath.write(path) { temporary in
            let file = try create(temporary)
            do {
                try body(file)
                try file.flush()
                try file.close()
            } catch let error as H5Error {
                file.discard()
                throw H5Error(call: error.call, file: path, object: error.object, code: error.code, detail: error.detail)
            } catch {
                file.discard()
                throw error
            }
        }
    }

    /// Whether a dataset, group or other link exists at `objectPath` (e.g. `"/optimizer/step"`).
    public func contains(_ objectPath: String) -> Bool {
        silenceHDF5ErrorPrinting()
        var prefix = ""
        for component in objectPath.split(separator: "/") {
            prefix += "/" + component
            guard H5Lexists(id, prefix, gt_h5p_default()) > 0 else { return false }
        }
        return true
    }

    // MARK: Float32 datasets

    /// Writes a Float32 tensor as a new dataset, creating missing groups on the way.
    ///
    /// Datasets with at least one dimension and one element are chunked (at most
    /// ``maxChunkElements`` per chunk, whole trailing rows) and Fletcher-32 checksummed; a scalar
    /// (`shape == []`) or an empty tensor is stored contiguous, without a checksum.
    /// - Parameters:
    ///   - values: The elements in row-major order; `values.count` must equal the product of `shape`.
    ///   - shape: The tensor's shape, e.g. `[rows, columns]`.
    ///   - dataset: The dataset's path, e.g. `"/params/model.norm.weight"`; it must not exist yet.
    /// - Throws: ``H5Error`` naming the dataset if any HDF5 call fails.
    public func writeFloats(_ values: UnsafeBufferPointer<Float>, shape: [Int], to dataset: String) throws {
        try writeDataset(UnsafeRawPointer(values.baseAddress), count: values.count, shape: shape,
                         fileType: gt_h5t_ieee_f32le(), memoryType: gt_h5t_native_float(), to: dataset)
    }

    /// Writes a Float32 tensor as a new dataset; the same as the buffer-pointer overload.
    public func writeFloats(_ values: [Float], shape: [Int], to dataset: String) throws {
        try values.withUnsafeBufferPointer { try writeFloats($0, shape: shape, to: dataset) }
    }

    /// Writes raw bytes (e.g. a tokenizer model file) as a one-dimensional, checksummed uint8 dataset.
    public func writeBytes(_ bytes: [UInt8], to dataset: String) throws {
        try bytes.withUnsafeBytes {
            try writeDataset($0.baseAddress, count: bytes.count, shape: [bytes.count],
                             fileType: gt_h5t_std_u8le(), memoryType: gt_h5t_native_uint8(), to: dataset)
        }
    }

    /// Reads a one-dimensional uint8 dataset written by ``writeBytes(_:to:)``.
    /// - Throws: ``H5Error`` naming the dataset if it is missing, not integer, or fails its checksum.
    public func readBytes(_ dataset: String) throws -> [UInt8] {
        try readDataset(dataset, typeClass: H5T_INTEGER, memoryType: gt_h5t_native_uint8(), as: UInt8.self).values
    }

    private func writeDataset(_ base: UnsafeRawPointer?, count: Int, shape: [Int], fileType: hid_t,
                              memoryType: hid_t, to dataset: String) throws {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape) for \(dataset)")
        precondition(shape.reduce(1, *) == count,
                     "shape \(shape) needs \(shape.reduce(1, *)) values, got \(count) for \(dataset)")
        silenceHDF5ErrorPrinting()
        let rank = Int32(shape.count)
        let dims = shape.map { hsize_t($0) }
        let space = shape.isEmpty
            ? try check(H5Screate(gt_h5s_scalar()), "H5Screate", dataset)
            : try check(H5Screate_simple(rank, dims, nil), "H5Screate_simple", dataset)
        defer { H5Sclose(space) }

        if let slash = dataset.lastIndex(of: "/"), slash != dataset.startIndex {
            try createGroup(String(dataset[..<slash]))
        }
        let dcpl = try check(H5Pcreate(gt_h5p_dataset_create()), "H5Pcreate", dataset)
        defer { H5Pclose(dcpl) }
        if !shape.isEmpty && count > 0 {
            let chunk = Self.chunkShape(shape).map { hsize_t($0) }
            try check(H5Pset_chunk(dcpl, rank, chunk), "H5Pset_chunk", dataset)
            try check(H5Pset_fletcher32(dcpl), "H5Pset_fletcher32", dataset)
        }

        let dset = try check(
            H5Dcreate2(id, dataset, fileType, space, gt_h5p_default(), dcpl, gt_h5p_default()), "H5Dcreate2", dataset)
        if let base, count > 0 {
            let status = H5Dwrite(dset, memoryType, gt_h5s_all(), gt_h5s_all(), gt_h5p_default(), base)
            if status < 0 {
                let error = H5Error(call: "H5Dwrite", file: path, object: dataset, code: Int64(status),
                                    detail: innermostHDF5Error())
                H5Dclose(dset)
                throw error
            }
        }
        try check(H5Dclose(dset), "H5Dclose", dataset)
    }

    /// Reads a floating-point dataset as Float32 (HDF5 converts other float widths).
    /// - Parameter dataset: The dataset's path, e.g. `"/params/model.norm.weight"`.
    /// - Returns: The dataset's shape (`[]` for a scalar) and its elements in row-major order.
    /// - Throws: ``H5Error`` naming the dataset if it is missing, not floating point, or fails its
    ///   checksum.
    public func readFloats(_ dataset: String) throws -> (shape: [Int], values: [Float]) {
        try readDataset(dataset, typeClass: H5T_FLOAT, memoryType: gt_h5t_native_float(), as: Float.self)
    }

    private func readDataset<T>(_ dataset: String, typeClass: H5T_class_t, memoryType: hid_t,
                                as: T.Type) throws -> (shape: [Int], values: [T]) {
        try withDataset(dataset, typeClass: typeClass) { dset, _, shape in
            let count = shape.reduce(1, *)
            var status: herr_t = 0
            let values = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                if count > 0 {
                    status = H5Dread(dset, memoryType, gt_h5s_all(), gt_h5s_all(), gt_h5p_default(), buffer.baseAddress)
                }
                initialized = status < 0 ? 0 : count
            }
            try check(status, "H5Dread", dataset)
            return (shape, values)
        }
    }

    /// Opens `dataset`, checks that its elements are of `typeClass` (floating point or integer) and calls
    /// `body(dataset id, its dataspace, its shape)`; closes both afterwards. Errors name the dataset.
    func withDataset<R>(_ dataset: String, typeClass: H5T_class_t,
                        _ body: (hid_t, hid_t, [Int]) throws -> R) throws -> R {
        silenceHDF5ErrorPrinting()
        let dset = try check(H5Dopen2(id, dataset, gt_h5p_default()), "H5Dopen2", dataset)
        defer { H5Dclose(dset) }
        let type = try check(H5Dget_type(dset), "H5Dget_type", dataset)
        defer { H5Tclose(type) }
        guard H5Tget_class(type) == typeClass else {
            throw H5Error(call: "H5File.read", file: path, object: dataset, code: -1,
                          detail: typeClass == H5T_FLOAT ? "not a floating-point dataset" : "not an integer dataset")
        }
        let space = try check(H5Dget_space(dset), "H5Dget_space", dataset)
        defer { H5Sclose(space) }
        return try body(dset, space, try dimensions(of: space, dataset))
    }

    /// Chunk dimensions for `shape`: whole trailing dimensions and as many leading rows as fit in
    /// ``maxChunkElements`` (splitting a dimension only where one row alone is too large).
    static func chunkShape(_ shape: [Int]) -> [Int] {
        var chunk = shape.map { max($0, 1) }
        for axis in chunk.indices {
            let elements = chunk.reduce(1, *)
            if elements <= maxChunkElements { break }
            let inner = chunk[(axis + 1)...].reduce(1, *)
            chunk[axis] = max(1, maxChunkElements / inner)
        }
        return chunk
    }

    // MARK: String attributes

    /// Sets a UTF-8 string attribute on a group or dataset (the root by default), replacing any
    /// attribute of that name.
    /// - Parameters:
    ///   - name: The attribute's name, e.g. `"format"`.
    ///   - value: Its text (stored as a fixed-length, zero-padded UTF-8 string).
    ///   - object: The group or dataset carrying it; `"/"` by default.
    /// - Throws: ``H5Error`` naming the object and attribute if any HDF5 call fails.
    public func setAttribute(_ name: String, _ value: String, on object: String = "/") throws {
        silenceHDF5ErrorPrinting()
        let label = Self.attributeLabel(name, on: object)
        let bytes = Array(value.utf8)
        let type = try check(H5Tcopy(gt_h5t_c_s1()), "H5Tcopy", label)
        defer { H5Tclose(type) }
        try check(H5Tset_size(type, max(bytes.count, 1)), "H5Tset_size", label)
        try check(H5Tset_strpad(type, H5T_STR_NULLPAD), "H5Tset_strpad", label)
        try check(H5Tset_cset(type, H5T_CSET_UTF8), "H5Tset_cset", label)
        let space = try check(H5Screate(gt_h5s_scalar()), "H5Screate", label)
        defer { H5Sclose(space) }
        let attribute = try createAttribute(name, on: object, type: type, space: space)
        defer { H5Aclose(attribute) }
        let padded = bytes.isEmpty ? [0] : bytes
        try check(padded.withUnsafeBytes { H5Awrite(attribute, type, $0.baseAddress) }, "H5Awrite", label)
    }

    /// Reads a string attribute (fixed- or variable-length, as h5py writes them).
    /// - Parameters:
    ///   - name: The attribute's name.
    ///   - object: The group or dataset carrying it; `"/"` by default.
    /// - Returns: The text, without trailing zero padding.
    /// - Throws: ``H5Error`` naming the object and attribute if it is missing or not one string.
    public func stringAttribute(_ name: String, on object: String = "/") throws -> String {
        try withAttribute(name, on: object) { attribute, type, space, label in try readString(attribute, type, space, label) }
    }

    /// Opens attribute `name` on `object` with its type and dataspace, for `body(attribute, type, space,
    /// label)`; closes all three afterwards. `label` names the attribute in errors.
    func withAttribute<R>(_ name: String, on object: String, _ body: (hid_t, hid_t, hid_t, String) throws -> R) throws -> R {
        silenceHDF5ErrorPrinting()
        let label = Self.attributeLabel(name, on: object)
        let attribute = try check(
            H5Aopen_by_name(id, object, name, gt_h5p_default(), gt_h5p_default()), "H5Aopen_by_name", label)
        defer { H5Aclose(attribute) }
        let type = try check(H5Aget_type(attribute), "H5Aget_type", label)
        defer { H5Tclose(type) }
        let space = try check(H5Aget_space(attribute), "H5Aget_space", label)
        defer { H5Sclose(space) }
        return try body(attribute, type, space, label)
    }

    /// The text of an open string attribute (fixed or variable length).
    private func readString(_ attribute: hid_t, _ type: hid_t, _ space: hid_t, _ label: String) throws -> String {
        guard H5Tget_class(type) == H5T_STRING,
              try check(H5Sget_simple_extent_npoints(space), "H5Sget_simple_extent_npoints", label) == 1
        else {
            throw H5Error(call: "H5File.stringAttribute", file: path, object: label, code: -1,
                          detail: "not a single string")
        }

        if try check(H5Tis_variable_str(type), "H5Tis_variable_str", label) > 0 {
            let memoryType = try check(H5Tcopy(gt_h5t_c_s1()), "H5Tcopy", label)
            defer { H5Tclose(memoryType) }
            try check(H5Tset_size(memoryType, gt_h5t_variable()), "H5Tset_size", label)
            try check(H5Tset_cset(memoryType, H5Tget_cset(type)), "H5Tset_cset", label)
            var text: UnsafeMutablePointer<CChar>?
            try check(H5Aread(attribute, memoryType, &text), "H5Aread", label)
            defer { H5free_memory(text) }
            return text.map { String(cString: $0) } ?? ""
        }

        let size = H5Tget_size(type)
        guard size > 0 else {
            throw H5Error(call: "H5Tget_size", file: path, object: label, code: 0, detail: nil)
        }
        var bytes = [UInt8](repeating: 0, count: size)
        try check(bytes.withUnsafeMutableBytes { H5Aread(attribute, type, $0.baseAddress) }, "H5Aread", label)
        if let end = bytes.firstIndex(of: 0) { bytes.removeSubrange(end...) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Creates attribute `name` of `type` and dataspace `space` on `object`, deleting any attribute of
    /// that name first; returns its id, for the caller to write and close.
    func createAttribute(_ name: String, on object: String, type: hid_t, space: hid_t) throws -> hid_t {
        let label = Self.attributeLabel(name, on: object)
        if try check(H5Aexists_by_name(id, object, name, gt_h5p_default()), "H5Aexists_by_name", label) > 0 {
            try check(H5Adelete_by_name(id, object, name, gt_h5p_default()), "H5Adelete_by_name", label)
        }
        return try check(
            H5Acreate_by_name(id, object, name, type, space, gt_h5p_default(), gt_h5p_default(), gt_h5p_default()),
            "H5Acreate_by_name", label)
    }

    /// How errors name an attribute: `/@format`, `/params/x@scale`.
    static func attributeLabel(_ name: String, on object: String) -> String {
        "\(object)@\(name)"
    }

    // MARK: Error checks naming this file

    @discardableResult
    func check(_ id: hid_t, _ call: String, _ object: String) throws -> hid_t {
        try h5Check(id, call, file: path, object: object)
    }

    @discardableResult
    func check(_ status: herr_t, _ call: String, _ object: String) throws -> herr_t {
        try h5Check(status, call, file: path, object: object)
    }
}
