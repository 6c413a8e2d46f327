import Foundation
import Yams

extension RunConfig {
    /// Reads a run configuration: the YAML file, then each override in order, then ``validate()``.
    ///
    /// - Parameters:
    ///   - path: the YAML file; keys it leaves out keep their defaults.
    ///   - overrides: `section.key=value` strings (the CLI's `--set` arguments); the value is read as the
    ///     key's type, `null` clears an optional key, quotes (`'...'` or `"..."`) make a string verbatim.
    /// - Throws: ``RunConfigError`` naming the file (and line), or the `--set` argument, and the key.
    public static func load(path: String, overrides: [String] = []) throws -> RunConfig {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw RunConfigError(.unreadableFile, location: path, message: "no such file")
        }
        guard !isDirectory.boolValue else {
            throw RunConfigError(.unreadableFile, location: path, message: "is a directory, not a YAML file")
        }
        guard let bytes = FileManager.default.contents(atPath: path) else {
            throw RunConfigError(.unreadableFile, location: path, message: "cannot be read")
        }
        guard let text = String(data: bytes, encoding: .utf8) else {
            throw RunConfigError(.unreadableFile, location: path, message: "is not UTF-8 text")
        }
        return try parse(yaml: text, file: path, overrides: overrides)
    }

    /// ``load(path:overrides:)`` for YAML text in memory; `file` names it in errors.
    public static func parse(yaml text: String, file: String = "<yaml>", overrides: [String] = []) throws -> RunConfig {
        var loader = Loader(file: file)
        try loader.read(yaml: text)
        for override in overrides { try loader.apply(override: override) }
        return try loader.finish()
    }

    /// Turns the CLI's `--mesh data=D,model=M` into overrides (`mesh.data=D`, `mesh.model=M`) for
    /// ``load(path:overrides:)``; either part may be left out.
    public static func meshOverrides(_ mesh: String) throws -> [String] {
        try mesh.split(separator: ",", omittingEmptySubsequences: false).map { part in
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, ["data", "model"].contains(pair[0]) else {
                throw RunConfigError(.badOverride, location: "--mesh \(mesh)",
                                     message: "expected data=D,model=M (either part may be left out), got '\(part)'")
            }
            return "mesh.\(pair[0])=\(pair[1])"
        }
    }

    /// Collects values from the file and the overrides into a configuration, remembering where each key
    /// was set so that a validation error can point there.
    struct Loader {
        let file: String
        /// Defaults; `data.train` is checked to have been set in ``finish()``.
        var config = RunConfig(data: Data(train: ""))
        /// Key path -> where it was last set (`FILE:LINE` or `--set ARG`).
        var origins: [String: String] = [:]

        init(file: String) { self.file = file }

        mutating func read(yaml text: String) throws {
            let root: Node?
            do {
                root = try Yams.compose(yaml: text)
            } catch let error as YamlError {
                throw syntaxError(error)
            }
            guard let root, !isNull(root) else { return }  // empty file: all defaults
            guard case .mapping(let sections) = root else {
                throw RunConfigError(.wrongType, location: location(root), message:
                    "expected a mapping of sections (\(RunConfig.sectionList)), got \(describe(root))")
            }
            for (nameNode, body) in sections {
                let name = try keyName(nameNode, in: nil)
                guard let section = RunConfig.schema.first(where: { $0.name == name }) else {
                    throw unknownSection(name, location: location(nameNode))
                }
                if isNull(body) { continue }  // `train:` with nothing under it
                guard case .mapping(let keys) = body else {
                    throw RunConfigError(.wrongType, location: location(body), key: name, message:
                        "expected a mapping of keys (\(section.keyList)), got \(describe(body))")
                }
                for (keyNode, value) in try flattened(keys, in: section) {
                    let key = try keyName(keyNode, in: name), at = location(keyNode)
                    if case .sequence(let items) = value, section.field(key)?.isList == true, let list = scalarList(items) {
                        try set(section, key, ConfigScalar(text: list, quoted: false), location: at)
                        continue
                    }
                    guard case .scalar(let scalar) = value else {
                        let path = "\(name).\(key)"
                        guard let field = section.field(key) else { throw unknownKey(path, in: section, location: at) }
                        throw RunConfigError(.wrongType, location: at, key: path,
                                             message: "expected \(field.expected), got \(describe(value))")
                    }
                    try set(section, key, ConfigScalar(text: scalar.string, quoted: scalar.style != .plain), location: at)
                }
            }
        }

        /// The keys of a section's mapping with each nested group (`lora: {rank: 16}`) spread into dotted
        /// keys (`lora.rank: 16`), and `group: null` into the group's first key set to null.
        private func flattened(_ keys: Node.Mapping, in section: ConfigSection) throws -> [(Node, Node)] {
            var out: [(Node, Node)] = []
            for (keyNode, value) in keys {
                let key = try keyName(keyNode, in: section.name)
                let group = section.fields.filter { $0.key.hasPrefix(key + ".") }
                guard section.field(key) == nil, let first = group.first else { out.append((keyNode, value)); continue }
                if isNull(value) {
                    out.append((Node.scalar(.init(first.key, .implicit, .plain, keyNode.mark)), value))
                } else if case .mapping(let inner) = value {
                    for (innerKey, innerValue) in inner {
                        let name = try keyName(innerKey, in: "\(section.name).\(key)")
                        out.append((Node.scalar(.init("\(key).\(name)", .implicit, .plain, innerKey.mark)), innerValue))
                    }
                } else {
                    throw RunConfigError(.wrongType, location: location(value), key: "\(section.name).\(key)", message:
                        "expected a mapping of " + group.map { String($0.key.dropFirst(key.count + 1)) }.joined(separator: ", ")
                        + " or null, got \(describe(value))")
                }
            }
            return out
        }

        /// Applies one `section.key=value` (`section.group.key=value` inside a nested group).
        mutating func apply(override: String) throws {
            let location = "--set \(override)"
            guard let equals = override.firstIndex(of: "=") else {
                throw RunConfigError(.badOverride, location: location,
                                     message: "expected section.key=value, e.g. train.lr=0.001")
            }
            let path = override[..<equals].trimmingCharacters(in: .whitespaces)
            var text = String(override[override.index(after: equals)...])
            var quoted = false
            if text.count >= 2, let first = text.first, first == "\"" || first == "'", text.last == first {
                text = String(text.dropFirst().dropLast())
                quoted = true
            }
            let parts = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard let section = RunConfig.schema.first(where: { $0.name == parts[0] }) else {
                throw unknownSection(parts[0], location: location)
            }
            guard parts.count == 2 || (parts.count == 3 && section.field(parts[1...].joined(separator: ".")) != nil) else {
                if parts.count == 1 {
                    throw RunConfigError(.badOverride, location: location, key: path, message:
                        "expected section.key=value; keys of \(section.name): \(section.keyList)")
                }
                throw unknownKey(path, in: section, location: location)
            }
            try set(section, parts[1...].joined(separator: "."), ConfigScalar(text: text, quoted: quoted), location: location)
        }

        /// Checks what needs every value at once, then validates.
        mutating func finish() throws -> RunConfig {
            guard origins["data.train"] != nil else {
                throw RunConfigError(.missingKey, location: file, key: "data.train",
                                     message: "required: the training data file (.jsonl, or .txt for text)")
            }
            // The preset default stands in only when nothing else gives the architecture.
            if origins["model.preset"] == nil && (config.model.path != nil || config.model.initFrom != nil) {
                config.model.preset = nil
            }
            do {
                try config.validate()
            } catch var error as RunConfigError {
                if error.location == nil { error.location = error.key.flatMap { origins[$0] } ?? file }
                throw error
            }
            return config
        }

        private mutating func set(_ section: ConfigSection, _ key: String, _ scalar: ConfigScalar,
                                  location: String) throws {
            let path = "\(section.name).\(key)"
            guard let field = section.field(key) else { throw unknownKey(path, in: section, location: location) }
            do {
                try field.assign(&config, scalar, path)
            } catch var error as RunConfigError {
                error.location = location
                throw error
            }
            origins[path] = location
        }

        // MARK: Nodes and errors

        private func isNull(_ node: Node) -> Bool {
            guard case .scalar(let s) = node else { return false }
            return ConfigScalar(text: s.string, quoted: s.style != .plain).isNull
        }

        private func keyName(_ node: Node, in section: String?) throws -> String {
            guard case .scalar(let s) = node else {
                throw RunConfigError(.wrongType, location: location(node), key: section,
                                     message: "a key must be a plain name, got \(describe(node))")
            }
            return s.string
        }

        private func location(_ node: Node) -> String {
            node.mark.map { "\(file):\($0.line)" } ?? file
        }

        /// The items of a sequence of plain scalars joined by commas (nil when one is anything else).
        private func scalarList(_ items: Node.Sequence) -> String? {
            var texts: [String] = []
            for item in items {
                guard case .scalar(let s) = item, s.style == .plain, !s.string.contains(",") else { return nil }
                texts.append(s.string)
            }
            return texts.joined(separator: ",")
        }

        private func describe(_ node: Node) -> String {
            switch node {
            case .scalar(let s): return ConfigScalar(text: s.string, quoted: s.style != .plain).shown
            case .mapping: return "a mapping"
            case .sequence: return "a list"
            case .alias: return "an alias"
            }
        }

        private func unknownSection(_ name: String, location: String) -> RunConfigError {
            RunConfigError(.unknownKey, location: location, key: name, message: "unknown section"
                           + suggestion(name, among: RunConfig.schema.map(\.name))
                           + "; valid sections: \(RunConfig.sectionList)")
        }

        private func unknownKey(_ path: String, in section: ConfigSection, location: String) -> RunConfigError {
            let key = String(path.dropFirst(section.name.count + 1))
            return RunConfigError(.unknownKey, location: location, key: path, message: "unknown key"
                                  + suggestion(key, among: section.fields.map(\.key), prefix: "\(section.name).")
                                  + "; valid keys of \(section.name): \(section.keyList)")
        }

        private func syntaxError(_ error: YamlError) -> RunConfigError {
            switch error {
            case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
                 .composer(let context, let problem, let mark, _):
                let during = context.map { " (\($0.text) at line \($0.mark.line))" } ?? ""
                return RunConfigError(.syntax, location: "\(file):\(mark.line):\(mark.column)",
                                      message: "YAML syntax error: \(problem)\(during)")
            case .duplicatedKeysInMapping(let duplicates, let context):
                return RunConfigError(.syntax, location: "\(file):\(context.mark.line)", message:
                    "duplicate key " + duplicates.map { "'\($0)'" }.joined(separator: ", "))
            default:
                return RunConfigError(.syntax, location: file, message: "YAML error: \(error)")
            }
        }
    }
}

/// `" (did you mean 'train.lr'?)"` when a valid name is a small edit away from `name` or starts with it,
/// else "".
private func suggestion(_ name: String, among names: [String], prefix: String = "") -> String {
    func editDistance(_ a: String, _ b: String) -> Int {
        let (a, b) = (Array(a), Array(b))
        var row = Array(0...b.count)
        for i in a.indices {
            var diagonal = row[0]
            row[0] = i + 1
            for j in b.indices {
                let next = min(diagonal + (a[i] == b[j] ? 0 : 1), row[j + 1] + 1, row[j] + 1)
                diagonal = row[j + 1]
                row[j + 1] = next
            }
        }
        return row[b.count]
    }
    let name = name.lowercased()
    let close = names.map { ($0, editDistance(name, $0)) }.filter { candidate, distance in
        distance <= (name.count > 3 ? 2 : 1) || (name.count >= 3 && candidate.hasPrefix(name))
    }
    guard let best = close.min(by: { $0.1 < $1.1 }) else { return "" }
    return " (did you mean '\(prefix)\(best.0)'?)"
}
