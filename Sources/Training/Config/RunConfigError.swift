/// A run configuration that cannot be used. Its description is one line: where (file and line, or the
/// `--set` argument), the key path, and what is wrong, e.g.
/// `Configs/sft-tiny.yaml:12: train.lr: expected a number, got 'fast'`.
public struct RunConfigError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: Sendable {
        /// The file cannot be read or is not UTF-8.
        case unreadableFile
        /// The file is not valid YAML.
        case syntax
        /// A section or key the schema does not have.
        case unknownKey
        /// A value of the wrong type (or a section that is not a mapping).
        case wrongType
        /// A value outside an enumerated key's choices.
        case invalidChoice
        /// A well-typed value that breaks a rule (range, divisibility, combination of keys).
        case invalidValue
        /// A required key without a value.
        case missingKey
        /// A `--set` argument that is not `section.key=value`.
        case badOverride
    }

    public var kind: Kind
    /// `FILE`, `FILE:LINE`, `FILE:LINE:COLUMN` or `--set ARG`; nil when unknown.
    public var location: String?
    /// The key path (`train.lr`, or a section name); nil for errors about the whole file.
    public var key: String?
    public var message: String

    public init(_ kind: Kind, location: String? = nil, key: String? = nil, message: String) {
        self.kind = kind
        self.location = location
        self.key = key
        self.message = message
    }

    public var description: String {
        let line = ([location, key].compactMap { $0 } + [message]).joined(separator: ": ")
        return line.split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}
