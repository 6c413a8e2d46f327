import Foundation
import Gemma

extension GemmaConfig {
    /// The first Hugging Face key, in alphabetical order, whose value differs between `self` and `other`,
    /// with both values as JSON text (e.g. `("num_hidden_layers", "2", "4")`); nil when they are equal.
    func firstDifference(from other: GemmaConfig) -> (key: String, mine: String, theirs: String)? {
        let mine = Self.jsonFields(self), theirs = Self.jsonFields(other)
        for key in Set(mine.keys).union(theirs.keys).sorted() where mine[key] != theirs[key] {
            return (key, mine[key] ?? "absent", theirs[key] ?? "absent")
        }
        return nil
    }

    /// Each key of the encoded config with its value as JSON text.
    private static func jsonFields(_ config: GemmaConfig) -> [String: String] {
        // Encoding a struct of numbers cannot fail.
        let object = try! JSONSerialization.jsonObject(with: JSONEncoder().encode(config)) as! [String: Any]
        return object.mapValues { value in
            String(decoding: try! JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed]),
                   as: UTF8.self)
        }
    }
}
