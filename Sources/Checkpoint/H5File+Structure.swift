import CHDF5

/// Groups, attribute presence and the list of datasets: what a reader needs to walk a file it did not
/// write.
extension H5File {
    /// Creates the group `group` (e.g. `"/state"`) and any missing parents; does nothing if it exists.
    /// - Throws: ``H5Error`` naming the group if HDF5 cannot create it.
    public func createGroup(_ group: String) throws {
        guard !contains(group) else { return }
        silenceHDF5ErrorPrinting()
        let lcpl = try check(H5Pcreate(gt_h5p_link_create()), "H5Pcreate", group)
        defer { H5Pclose(lcpl) }
        try check(H5Pset_create_intermediate_group(lcpl, 1), "H5Pset_create_intermediate_group", group)
        let created = try check(H5Gcreate2(id, group, lcpl, gt_h5p_default(), gt_h5p_default()), "H5Gcreate2", group)
        try check(H5Gclose(created), "H5Gclose", group)
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
