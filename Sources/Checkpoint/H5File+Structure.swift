import CHDF5

/// Groups, attribute presence and the list of datasets: what a reader needs to walk a file it did not
/// write.
extension H5File {
    /// Creates the group `group` (e.g. `"/state"`) and any missing parents; does nothing if it exists.
    /// Each group keeps its links and attributes in its checksummed object header
    /// (``compactCreationList(_:_:object:)``).
    /// - Throws: ``H5Error`` naming the group if HDF5 cannot create it.
    public func createGroup(_ group: String) throws {
        silenceHDF5ErrorPrinting()
        var prefix = ""
        for component in group.split(separator: "/") {
            prefix += "/" + component
            guard H5Lexists(id, prefix, gt_h5p_default()) <= 0 else { continue }
            let gcpl = try Self.compactCreationList(gt_h5p_group_create(), path, object: prefix)
            defer { H5Pclose(gcpl) }
            let created = try check(H5Gcreate2(id, prefix, gt_h5p_default(), gcpl, gt_h5p_default()), "H5Gcreate2", prefix)
            try check(H5Gclose(created), "H5Gclose", prefix)
        }
    }

    /// Where a group keeps its links and an object its attributes: in its object header (compact), or
    /// in a heap indexed by a B-tree (dense).
    struct Storage: Equatable {
        var denseLinks: Bool
        var denseAttributes: Bool
    }

    /// How the group `group` stores its links and attributes (what ``compactCreationList(_:_:object:)``
    /// decides); for tests and diagnosis.
    /// - Throws: ``H5Error`` naming the group if it cannot be opened.
    func storage(of group: String) throws -> Storage {
        silenceHDF5ErrorPrinting()
        let handle = try check(H5Gopen2(id, group, gt_h5p_default()), "H5Gopen2", group)
        defer { H5Gclose(handle) }
        var links = H5G_info_t()
        try check(H5Gget_info(handle, &links), "H5Gget_info", group)
        var object = H5O_info_t()
        try check(H5Oget_info_by_name2(handle, ".", &object, UInt32(H5O_INFO_META_SIZE), gt_h5p_default()), "H5Oget_info", group)
        return Storage(denseLinks: links.storage_type == H5G_STORAGE_TYPE_DENSE, denseAttributes: object.meta_size.attr.heap_size > 0)
    }

    /// Whether the group or dataset `object` exists and carries an attribute called `name`.
    public func hasAttribute(_ name: String, on object: String = "/") -> Bool {
        silenceHDF5ErrorPrinting()
        return contains(object) && H5Aexists_by_name(id, object, name, gt_h5p_default()) > 0
    }

    /// Every dataset inside `group` and its subgroups, as full paths (`/params/model.norm.weight`),
    /// in name order within each group.
    /// - Throws: ``H5Error`` naming the group or object that cannot be opened (e.g. a damaged header).
    public func datasets(under group: String = "/") throws -> [String] {
        silenceHDF5ErrorPrinting()
        let handle = try check(H5Gopen2(id, group, gt_h5p_default()), "H5Gopen2", group)
        defer { H5Gclose(handle) }
        var info = H5G_info_t()
        try check(H5Gget_info(handle, &info), "H5Gget_info", group)
        var found: [String] = []
        for index in 0..<info.nlinks {
            let length = try check(
                hid_t(H5Lget_name_by_idx(handle, ".", H5_INDEX_NAME, H5_ITER_INC, index, nil, 0, gt_h5p_default())),
                "H5Lget_name_by_idx", group)
            var bytes = [CChar](repeating: 0, count: Int(length) + 1)
            try check(hid_t(H5Lget_name_by_idx(handle, ".", H5_INDEX_NAME, H5_ITER_INC, index, &bytes, bytes.count,
                                               gt_h5p_default())), "H5Lget_name_by_idx", group)
            let child = (group.hasSuffix("/") ? group : group + "/") + String(decoding: bytes.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let object = try check(H5Oopen(id, child, gt_h5p_default()), "H5Oopen", child)
            let type = H5Iget_type(object)
            H5Oclose(object)
            if type == H5I_DATASET {
                found.append(child)
            } else if type == H5I_GROUP {
                found += try datasets(under: child)
            }
        }
        return found
    }

    /// The shape of a dataset (`[]` for a scalar), without reading its elements.
    /// - Throws: ``H5Error`` naming the dataset if it is missing.
    public func shape(of dataset: String) throws -> [Int] {
        silenceHDF5ErrorPrinting()
        let dset = try check(H5Dopen2(id, dataset, gt_h5p_default()), "H5Dopen2", dataset)
        defer { H5Dclose(dset) }
        let space = try check(H5Dget_space(dset), "H5Dget_space", dataset)
        defer { H5Sclose(space) }
        return try dimensions(of: space, dataset)
    }

    /// The dimensions of a simple (or scalar) dataspace.
    func dimensions(of space: hid_t, _ dataset: String) throws -> [Int] {
        let rank = try check(H5Sget_simple_extent_ndims(space), "H5Sget_simple_extent_ndims", dataset)
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        try check(H5Sget_simple_extent_dims(space, &dims, nil), "H5Sget_simple_extent_dims", dataset)
        return dims.map { Int($0) }
    }
}
