import Foundation

extension DecodingError {
    /// One line for a user: what is wrong and at which key path, e.g. `missing key "text"`,
    /// `expected String at messages[0].content`, `not valid JSON`.
    public var summary: String {
        func at(_ context: Context) -> String {
            let parts = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }
            let path = String(parts.joined().drop(while: { $0 == "." }))
            return path.isEmpty ? "" : " at \(path)"
        }
        switch self {
        case .keyNotFound(let key, let context): return "missing key \"\(key.stringValue)\"\(at(context))"
        case .typeMismatch(let type, let context): return "expected \(type)\(at(context))"
        case .valueNotFound(let type, let context): return "missing \(type)\(at(context))"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not valid JSON" : "\(context.debugDescription)\(at(context))"
        @unknown default: return "\(self)"
        }
    }
}
