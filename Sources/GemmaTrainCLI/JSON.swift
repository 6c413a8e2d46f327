import Foundation

/// A JSON value (a scalar or an array of them), rendered as JSON text.
enum JSONValue {
    case string(String)
    /// Four significant digits (benchmark figures).
    case number(Double)
    /// The shortest text that reads back to the same Double (losses, metrics).
    case exact(Double)
    case int(Int)
    case bool(Bool)
    case array([JSONValue])

    var rendered: String {
        switch self {
        case .string(let s):
            let data = try! JSONSerialization.data(withJSONObject: s, options: [.fragmentsAllowed])
            return String(decoding: data, as: UTF8.self)
        case .number(let x):
            return x.isFinite ? String(format: "%.4g", x) : "null"
        case .exact(let x):
            return x.isFinite ? "\(x)" : "null"
        case .int(let n):
            return String(n)
        case .bool(let b):
            return b ? "true" : "false"
        case .array(let values):
            return "[" + values.map(\.rendered).joined(separator: ", ") + "]"
        }
    }
}

/// A flat JSON object whose keys keep the order given (readable JSON-lines output).
func jsonObject(_ fields: [(String, JSONValue)]) -> String {
    "{" + fields.map { "\(JSONValue.string($0.0).rendered): \($0.1.rendered)" }.joined(separator: ", ") + "}"
}
