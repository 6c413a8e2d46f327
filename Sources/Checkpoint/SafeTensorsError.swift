/// A failed safetensors operation: a malformed or truncated file, a missing tensor, an unsupported
/// dtype or a failed system call, naming the file (or model directory) and, when there is one, the
/// tensor, e.g.
/// `model.safetensors: tensor model.norm.weight: data_offsets [0, 12] hold 12 bytes, but shape [4] of F32 needs 16`.
public struct SafeTensorsError: Error, CustomStringConvertible {
    /// The path of the file or model directory, as it was given.
    public let file: String
    /// The tensor's name, if the error concerns one.
    public let tensor: String?
    /// What is wrong, e.g. `"file is 5 bytes, shorter than the 8-byte header length"`.
    public let reason: String
    /// The `errno` of a failed system call (`open`, `mmap`, `write`, `rename`, ...), if that was the cause.
    public let errno: Int32?

    public init(file: String, tensor: String? = nil, reason: String, errno: Int32? = nil) {
        self.file = file
        self.tensor = tensor
        self.reason = reason
        self.errno = errno
    }

    public var description: String {
        var text = file + ": "
        if let tensor { text += "tensor \(tensor): " }
        return text + reason
    }
}
