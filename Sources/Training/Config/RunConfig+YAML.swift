extension RunConfig {
    /// The configuration as YAML with every key, defaults included, in schema order: what the trainer
    /// writes to `<run dir>/config.yaml`. ``parse(yaml:file:overrides:)`` reads it back to an equal value.
    public func yaml() -> String {
        var out = "# Resolved run configuration: every key, defaults included (Docs/RunConfig.md).\n"
        for section in Self.schema {
            out += "\(section.name):\n"
            for field in section.fields {
                out += "  \(field.key): \(field.render(self))\n"
            }
        }
        return out
    }

    /// Every key as a Markdown table (key, type, default, meaning); `Docs/RunConfig.md` holds it and a
    /// test keeps the two identical.
    public static var referenceTable: String {
        let defaults = RunConfig(data: Data(train: ""))
        var lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
        for section in schema {
            for field in section.fields {
                let path = "\(section.name).\(field.key)"
                let value = path == "data.train" ? "required" : "`\(field.render(defaults))`"
                let type = field.typeName.replacingOccurrences(of: "|", with: "\\|")
                lines.append("| `\(path)` | \(type) | \(value) | \(field.doc) |")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
