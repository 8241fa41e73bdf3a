/// A syntax error in a configuration file, with its 1-based line: what `TOMLSubset` and
/// `YAMLSubset` throw, and what the config loaders turn into "file:line: message".
public struct ConfigSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var message: String

    public init(line: Int, message: String) {
        self.line = line
        self.message = message
    }

    public var description: String { "line \(line): \(message)" }

    /// `text` for a message, at most about `limit` characters of it (a config error never
    /// quotes a megabyte back), with `…` when cut. Control characters, which would garble a
    /// terminal or the journal, are written as `\u{1b}` and count for what they take.
    public static func excerpt(_ text: some StringProtocol, limit: Int = 40) -> String {
        var out = ""
        var n = 0
        for ch in text.unicodeScalars {
            let shown = ch.value < 0x20 || ch.value == 0x7F ? "\\u{\(String(ch.value, radix: 16))}" : String(ch)
            guard n + shown.unicodeScalars.count <= limit else { return out + "…" }
            out += shown
            n += shown.unicodeScalars.count
        }
        return out
    }
}

/// The bounds every config text is read within: whatever a file holds, parsing takes time and
/// memory in proportion to its size and never recurses deeper than `maxDepth`.
public enum ConfigSyntaxLimits {
    /// A config file is a few KiB; more is a mistake (a log, a binary) and is refused.
    public static let maxBytes = 1 << 20
    /// How deep arrays (TOML), mappings, sequences and flow collections (YAML) may nest. The
    /// config files need 3.
    public static let maxDepth = 32
    /// How many `[[name]]` tables one array of tables may have (iommud.toml's `[[expected]]`
    /// rules are bounded lower still, by the config's schema).
    public static let maxArrayTables = 1024

    /// The error for a text longer than `maxBytes`, on the line where it goes past the limit;
    /// nil when it is within.
    static func sizeError(_ b: [UInt8]) -> ConfigSyntaxError? {
        guard b.count > maxBytes else { return nil }
        var line = 1
        for c in b[..<maxBytes] where c == 10 { line += 1 }
        return ConfigSyntaxError(
            line: line, message: "the text goes on past 1 MiB (\(maxBytes) bytes): a config file is a few KiB")
    }

    static func depthError(line: Int, what: String) -> ConfigSyntaxError {
        ConfigSyntaxError(line: line, message: "\(what) nested deeper than \(maxDepth) levels")
    }
}
