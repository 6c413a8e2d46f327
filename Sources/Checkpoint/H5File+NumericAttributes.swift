import CHDF5

/// Numeric attributes: 64-bit integers, unsigned 64-bit integers (scalars and one-dimensional arrays)
/// and doubles, stored little-endian so a file reads the same on every machine (h5py reads them as
/// `numpy.int64`, `numpy.uint64`, `numpy.ndarray` and `numpy.float64`).
extension H5File {
    /// Sets a 64-bit integer attribute, replacing any attribute of that name.
    /// - Parameters:
    ///   - name: The attribute's name, e.g. `"step"`.
    ///   - value: Its value (stored as a little-endian int64 scalar).
    ///   - object: The group or dataset carrying it; `"/"` by default.
    /// - Throws: ``H5Error`` naming the object and attribute if any HDF5 call fails.
    public func setAttribute(_ name: String, _ value: Int, on object: String = "/") throws {
        var stored = Int64(value)
        try writeNumericAttribute(name, on: object, fileType: gt_h5t_std_i64le(), memoryType: gt_h5t_native_int64(),
                                  count: nil, bytes: &stored)
    }

    /// Sets an unsigned 64-bit integer attribute (a uint64 scalar), e.g. a seed.
    public func setAttribute(_ name: String, _ value: UInt64, on object: String = "/") throws {
        var stored = value
        try writeNumericAttribute(name, on: object, fileType: gt_h5t_std_u64le(), memoryType: gt_h5t_native_uint64(),
                                  count: nil, bytes: &stored)
    }

    /// Sets a one-dimensional uint64 attribute, e.g. a random generator's state words.
    /// - Precondition: `values` is not empty.
    public func setAttribute(_ name: String, _ values: [UInt64], on object: String = "/") throws {
        precondition(!values.isEmpty, "empty uint64 attribute \(name) on \(object)")
        try values.withUnsafeBytes {
            try writeNumericAttribute(name, on: object, fileType: gt_h5t_std_u64le(),
                                      memoryType: gt_h5t_native_uint64(), count: values.count, bytes: $0.baseAddress!)
        }
    }

    /// Sets a double attribute (a float64 scalar); a Float converts to it exactly.
    public func setAttribute(_ name: String, _ value: Double, on object: String = "/") throws {
        var stored = value
        try writeNumericAttribute(name, on: object, fileType: gt_h5t_ieee_f64le(), memoryType: gt_h5t_native_double(),
                                  count: nil, bytes: &stored)
    }

    /// Reads an integer attribute holding one value (HDF5 converts other integer widths).
    /// - Throws: ``H5Error`` naming the object and attribute if it is missing, not an integer or not
    ///   one value.
    public func intAttribute(_ name: String, on object: String = "/") throws -> Int {
        let values: [Int64] = try readNumericAttribute(name, on: object, typeClass: H5T_INTEGER,
                                                       memoryType: gt_h5t_native_int64(), single: true)
        return Int(values[0])
    }

    /// Reads an integer attribute holding one value as UInt64.
    public func uint64Attribute(_ name: String, on object: String = "/") throws -> UInt64 {
        let values: [UInt64] = try readNumericAttribute(name, on: object, typeClass: H5T_INTEGER,
                                                        memoryType: gt_h5t_native_uint64(), single: true)
        return values[0]
    }

    /// Reads an integer attribute's values (a scalar reads as one value) as UInt64.
    public func uint64ArrayAttribute(_ name: String, on object: String = "/") throws -> [UInt64] {
        try readNumericAttribute(name, on: object, typeClass: H5T_INTEGER, memoryType: gt_h5t_native_uint64(),
                                 single: false)
    }

    /// Reads a floating-point attribute holding one value.
    public func doubleAttribute(_ name: String, on object: String = "/") throws -> Double {
        let values: [Double] = try readNumericAttribute(name, on: object, typeClass: H5T_FLOAT,
                                                        memoryType: gt_h5t_native_double(), single: true)
        return values[0]
    }

    /// Creates attribute `name` on `object` (a scalar when `count` is nil, else `[count]`) and writes
    /// `bytes`, laid out as `memoryType`.
    private func writeNumericAttribute(_ name: String, on object: String, fileType: hid_t, memoryType: hid_t,
                                       count: Int?, bytes: UnsafeRawPointer) throws {
        silenceHDF5ErrorPrinting()
        let label = Self.attributeLabel(name, on: object)
        let space = try count.map { n in
            var dims = [hsize_t(n)]
            return try check(H5Screate_simple(1, &dims, nil), "H5Screate_simple", label)
        } ?? check(H5Screate(gt_h5s_scalar()), "H5Screate", label)
        defer { H5Sclose(space) }
        let attribute = try createAttribute(name, on: object, type: fileType, space: space)
        defer { H5Aclose(attribute) }
        try check(H5Awrite(attribute, memoryType, bytes), "H5Awrite", label)
    }

    /// Reads every value of attribute `name` on `object` as `memoryType`; with `single`, exactly one.
    private func readNumericAttribute<T: Numeric>(_ name: String, on object: String, typeClass: H5T_class_t,
                                                  memoryType: hid_t, single: Bool) throws -> [T] {
        try withAttribute(name, on: object) { attribute, type, space, label in
            let count = Int(try check(H5Sget_simple_extent_npoints(space), "H5Sget_simple_extent_npoints", label))
            guard H5Tget_class(type) == typeClass, count > 0, !single || count == 1 else {
                let kind = typeClass == H5T_FLOAT ? "floating-point" : "integer"
                throw H5Error(call: "H5File.readAttribute", file: path, object: label, code: -1,
                              detail: single ? "not a single \(kind) value" : "not \(kind) values")
            }
            var values = [T](repeating: 0, count: count)
            try check(values.withUnsafeMutableBytes { H5Aread(attribute, memoryType, $0.baseAddress) }, "H5Aread", label)
            return values
        }
    }
}
