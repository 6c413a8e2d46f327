import CHDF5

/// A failed HDF5 operation, naming the call, the file and (when there is one) the dataset, group or
/// attribute inside it, plus HDF5's own account of the innermost cause.
///
/// HDF5's habit of printing its whole error stack to stderr is switched off, so this one line is
/// all the user sees, e.g.
/// `H5Dread failed for /params/model.norm.weight in ckpt.h5: data error detected by Fletcher32 checksum`.
public struct H5Error: Error, CustomStringConvertible {
    /// The HDF5 function (or `H5File` operation) that failed, e.g. `"H5Dread"`.
    public let call: String
    /// The file's path as it was given to ``H5File``.
    public let file: String
    /// The path of the object inside the file, e.g. `"/params/model.norm.weight"`; nil for the file.
    public let object: String?
    /// The value the call returned (a negative `herr_t` or `hid_t`), or -1.
    public let code: Int64
    /// HDF5's message for the innermost error on its stack, or our own reason.
    public let detail: String?

    public var description: String {
        var text = "\(call) failed"
        if let object { text += " for \(object)" }
        text += " in \(file)"
        if let detail { text += ": \(detail)" }
        return text
    }
}

/// Turns off HDF5's automatic printing of its error stack for the calling thread (the thread-safe
/// HDF5 build keeps that setting per thread, so every public entry point calls this).
func silenceHDF5ErrorPrinting() {
    _ = H5Eset_auto2(gt_h5e_default(), nil, nil)
}

/// The description of the innermost (first pushed) error on the calling thread's HDF5 error stack:
/// the most specific reason, e.g. "object 'missing' doesn't exist".
func innermostHDF5Error() -> String? {
    var message: String?
    withUnsafeMutablePointer(to: &message) { slot in
        _ = H5Ewalk2(gt_h5e_default(), H5E_WALK_UPWARD, { index, error, context in
            guard index == 0, let description = error?.pointee.desc, let context else { return 0 }
            context.assumingMemoryBound(to: String?.self).pointee = String(cString: description)
            return 0
        }, slot)
    }
    return message.map(oneLine)
}

/// HDF5's message as one line: a failed system call's long report (`file write failed: time = ..., filename
/// = '...', file descriptor = 23, errno = 28, error message = 'No space left on device', buf = ...`)
/// shortened to what happened and why (`file write failed: No space left on device (errno 28)`), any
/// other message with its line breaks turned into spaces.
func oneLine(_ message: String) -> String {
    let flat = message.split(whereSeparator: \.isNewline).joined(separator: " ")
    guard let colon = flat.firstIndex(of: ":"),
          let errnoRange = flat.range(of: "errno = "),
          let messageRange = flat.range(of: "error message = '", range: errnoRange.upperBound..<flat.endIndex),
          let end = flat[messageRange.upperBound...].firstIndex(of: "'")
    else { return flat }
    let number = flat[errnoRange.upperBound...].prefix { $0.isNumber }
    return "\(flat[..<colon]): \(flat[messageRange.upperBound..<end]) (errno \(number))"
}

/// Returns `id` if it is valid, or throws an ``H5Error`` naming `call`, `file` and `object`.
/// - Parameters:
///   - id: The result of an HDF5 call that returns an `hid_t` (negative on failure).
///   - call: That function's name, e.g. `"H5Dopen2"`.
///   - file: The file's path.
///   - object: The path of the object inside the file, if any.
@discardableResult
func h5Check(_ id: hid_t, _ call: String, file: String, object: String? = nil) throws -> hid_t {
    guard id < 0 else { return id }
    throw H5Error(call: call, file: file, object: object, code: Int64(id), detail: innermostHDF5Error())
}

/// Returns `status` if it is not negative, or throws an ``H5Error`` naming `call`, `file` and
/// `object`. Works for `herr_t` and `htri_t` (whose positive values mean true).
@discardableResult
func h5Check(_ status: herr_t, _ call: String, file: String, object: String? = nil) throws -> herr_t {
    guard status < 0 else { return status }
    throw H5Error(call: call, file: file, object: object, code: Int64(status), detail: innermostHDF5Error())
}
