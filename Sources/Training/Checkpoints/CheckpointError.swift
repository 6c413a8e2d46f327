import Checkpoint

/// A checkpoint that cannot be written, read or resumed from, in one line naming the file and, when
/// there is one, the dataset, attribute or key, e.g.
/// `runs/a/ckpt-00000020.h5: dataset /params/model.norm.weight: checksum mismatch (data error detected by Fletcher32 checksum)`
/// or `runs/a/ckpt-00000020.h5: model config: num_hidden_layers: checkpoint 2, run 4`.
public struct CheckpointError: Error, CustomStringConvertible, Sendable {
    /// The checkpoint's path (or the run directory's), as it was given.
    public let file: String
    /// What inside the file: `dataset /params/x`, `attribute /state@data_seed`, `model config`; nil
    /// for the file as a whole.
    public let object: String?
    /// What is wrong.
    public let reason: String

    public init(file: String, object: String? = nil, reason: String) {
        self.file = file
        self.object = object
        self.reason = reason
    }

    /// An HDF5 failure in `file`: the object HDF5 names (an attribute as `attribute /state@step`, else
    /// `<objectKind> <path>`), and HDF5's reason; a failed checksum reads `checksum mismatch (...)`.
    /// - Parameter objectKind: What the named object is, e.g. `"dataset"` or `"group"`.
    init(file: String, _ error: H5Error, objectKind: String = "object") {
        let object = error.object.map { $0.contains("@") ? "attribute \($0)" : "\(objectKind) \($0)" }
        let detail = error.detail ?? "failed"
        let reason = detail.lowercased().contains("checksum")
            ? "checksum mismatch (\(detail))" : "\(error.call): \(detail)"
        self.init(file: file, object: object, reason: reason)
    }

    public var description: String {
        ([file] + [object].compactMap { $0 } + [reason]).joined(separator: ": ")
    }
}
