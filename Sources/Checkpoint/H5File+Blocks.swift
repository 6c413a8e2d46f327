import CHDF5

/// Reading parts of a dataset: one block of a Float32 tensor (a rank's shard), and a bounded-memory pass
/// over a whole dataset that checks every chunk's checksum.
extension H5File {
    /// Reads the block of a floating-point dataset that starts at `offset` and spans `count` elements
    /// along each axis, e.g. rows `r ..< r + n` of a matrix: `offset: [r, 0], count: [n, columns]`.
    /// - Returns: The block's elements in row-major order (`count.reduce(1, *)` of them).
    /// - Throws: ``H5Error`` naming the dataset if it is missing, not floating point, has another rank,
    ///   if the block lies outside it, or if a chunk it touches fails its checksum.
    public func readFloats(_ dataset: String, offset: [Int], count: [Int]) throws -> [Float] {
        try withDataset(dataset, typeClass: H5T_FLOAT) { dset, space, shape in
            guard offset.count == shape.count, count.count == shape.count,
                  zip(zip(offset, count), shape).allSatisfy({ $0.0 >= 0 && $0.1 >= 0 && $0.0 + $0.1 <= $1 })
            else {
                throw H5Error(call: "H5File.readFloats", file: path, object: dataset, code: -1,
                              detail: "block at \(offset) of size \(count) is outside the dataset's shape \(shape)")
            }
            let elements = count.reduce(1, *)
            var values = [Float](repeating: 0, count: elements)
            if elements > 0 {
                try values.withUnsafeMutableBytes {
                    try readBlock(dset, fileSpace: space, memoryType: gt_h5t_native_float(), offset: offset, count: count,
                                  into: $0.baseAddress!, dataset)
                }
            }
            return values
        }
    }

    /// Reads every element of a numeric dataset, a few chunks' worth of leading rows at a time, so that
    /// a checksum failure or missing data anywhere in it throws while memory stays bounded (about
    /// ``maxChunkElements`` elements, or one row if that is larger).
    /// - Throws: ``H5Error`` naming the dataset if it cannot be opened, is not numeric, or a read fails
    ///   (e.g. `data error detected by Fletcher32 checksum`).
    public func verify(_ dataset: String) throws {
        silenceHDF5ErrorPrinting()
        let dset = try check(H5Dopen2(id, dataset, gt_h5p_default()), "H5Dopen2", dataset)
        defer { H5Dclose(dset) }
        let type = try check(H5Dget_type(dset), "H5Dget_type", dataset)
        defer { H5Tclose(type) }
        guard [H5T_FLOAT, H5T_INTEGER].contains(H5Tget_class(type)) else {
            throw H5Error(call: "H5File.verify", file: path, object: dataset, code: -1, detail: "not a numeric dataset")
        }
        let memoryType = try check(H5Tget_native_type(type, H5T_DIR_ASCEND), "H5Tget_native_type", dataset)
        defer { H5Tclose(memoryType) }
        let elementSize = H5Tget_size(memoryType)
        let space = try check(H5Dget_space(dset), "H5Dget_space", dataset)
        defer { H5Sclose(space) }
        let shape = try dimensions(of: space, dataset)
        let elements = shape.reduce(1, *)
        guard elements > 0 else { return }
        guard let rows = shape.first else {  // a scalar
            var scalar = [UInt8](repeating: 0, count: elementSize)
            try check(H5Dread(dset, memoryType, gt_h5s_all(), gt_h5s_all(), gt_h5p_default(), &scalar), "H5Dread", dataset)
            return
        }
        let rowElements = elements / rows
        let chunkRows = try chunkRows(of: dset, dataset)
        let slabRows = max(chunkRows, Self.maxChunkElements / rowElements / chunkRows * chunkRows)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: min(slabRows, rows) * rowElements * elementSize,
                                                      alignment: 64)
        defer { buffer.deallocate() }
        for start in stride(from: 0, to: rows, by: slabRows) {
            let block = [min(slabRows, rows - start)] + shape.dropFirst()
            try readBlock(dset, fileSpace: space, memoryType: memoryType,
                          offset: [start] + [Int](repeating: 0, count: shape.count - 1), count: block,
                          into: buffer, dataset)
        }
    }

    /// Leading rows per chunk of a chunked dataset; 1 for other layouts.
    private func chunkRows(of dset: hid_t, _ dataset: String) throws -> Int {
        let dcpl = try check(H5Dget_create_plist(dset), "H5Dget_create_plist", dataset)
        defer { H5Pclose(dcpl) }
        guard H5Pget_layout(dcpl) == H5D_CHUNKED else { return 1 }
        var chunk = [hsize_t](repeating: 0, count: 32)  // H5S_MAX_RANK
        let rank = try check(H5Pget_chunk(dcpl, Int32(chunk.count), &chunk), "H5Pget_chunk", dataset)
        return rank > 0 ? max(1, Int(chunk[0])) : 1
    }

    /// Reads the block at `offset` of size `count` (non-empty) of `dset` into `buffer` as `memoryType`.
    private func readBlock(_ dset: hid_t, fileSpace: hid_t, memoryType: hid_t, offset: [Int], count: [Int],
                           into buffer: UnsafeMutableRawPointer, _ dataset: String) throws {
        var start = offset.map { hsize_t($0) }, size = count.map { hsize_t($0) }
        try check(H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &start, nil, &size, nil), "H5Sselect_hyperslab", dataset)
        let memorySpace = try check(H5Screate_simple(Int32(size.count), &size, nil), "H5Screate_simple", dataset)
        defer { H5Sclose(memorySpace) }
        try check(H5Dread(dset, memoryType, memorySpace, fileSpace, gt_h5p_default(), buffer), "H5Dread", dataset)
    }
}
