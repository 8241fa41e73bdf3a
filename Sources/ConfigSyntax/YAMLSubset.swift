/// The YAML that configuration files are written in — enough for the exporter-toolkit web
/// config (`[http] web_config`) and nothing more, with the line of every node for messages.
///
/// Why not a YAML library: the one available (Yams) brings Foundation, CoreFoundation and ICU
/// into the daemon, and their start-up alone cost 5 MB of idle RSS on a process that must stay
/// small on every node of a fleet. The web config needs a small part of YAML.
///
/// Read: block mappings; block sequences of scalars and flow collections (a sequence may sit at
/// its key's indentation); flow sequences and mappings (`[a, b]`, `{k: v}`, over several
/// lines); plain, single- and double-quoted scalars (with YAML's escapes) on one line; literal
/// block scalars (`|`, with `-`/`+` chomping: inline PEM); comments; a leading `---`. Plain
/// scalars resolve as YAML 1.1 does for null, booleans (`true`, `yes`, `on`, …) and decimal
/// integers; quoted ones are always strings. Nesting is bounded by
/// `ConfigSyntaxLimits.maxDepth`, the text by `ConfigSyntaxLimits.maxBytes`, and the time by
/// the length of the text. Refused, naming the line: anchors, aliases, tags, directives,
/// multi-document streams, complex (`?`) keys, folded scalars (`>`), quoted scalars over several
/// lines, and mappings or sequences inside a sequence item (the web config's lists are lists of
/// strings).
public enum YAMLSubset {
    public struct Node: Sendable, Equatable {
        public enum Value: Sendable, Equatable {
            case null
            /// `quoted`: written in quotes or as a block scalar (never null, a boolean or a number).
            case scalar(String, quoted: Bool)
            case mapping([Pair])
            case sequence([Node])
        }

        public struct Pair: Sendable, Equatable {
            public var key: Node
            public var value: Node
        }

        public var value: Value
        /// 1-based line where the node starts.
        public var line: Int

        public var isNull: Bool { value == .null }

        /// The text of a scalar (quoted or not); nil for null, mappings and sequences.
        public var string: String? {
            if case .scalar(let s, _) = value { return s }
            return nil
        }

        public var mapping: [Pair]? {
            if case .mapping(let m) = value { return m }
            return nil
        }

        public var sequence: [Node]? {
            if case .sequence(let s) = value { return s }
            return nil
        }

        /// A plain `true`/`false` (also `yes`/`no`/`on`/`off`, in lower, capitalised or upper case).
        public var bool: Bool? {
            guard case .scalar(let s, quoted: false) = value else { return nil }
            switch s {
            case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON": return true
            case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF": return false
            default: return nil
            }
        }

        /// A plain decimal integer with an optional sign; nil when it does not fit an `Int`.
        public var int: Int? {
            guard case .scalar(let s, quoted: false) = value else { return nil }
            var digits = Substring(s).utf8[...]
            var negative = false
            if let f = digits.first, f == UInt8(ascii: "-") || f == UInt8(ascii: "+") {
                negative = f == UInt8(ascii: "-")
                digits = digits.dropFirst()
            }
            guard !digits.isEmpty, digits.allSatisfy(isDigit) else { return nil }
            var n = 0
            for c in digits {
                let (m, o1) = n.multipliedReportingOverflow(by: 10)
                let d = Int(c - 0x30)
                let (a, o2) = negative ? m.subtractingReportingOverflow(d) : m.addingReportingOverflow(d)
                guard !o1, !o2 else { return nil }
                n = a
            }
            return n
        }
    }

    public typealias SyntaxError = ConfigSyntaxError

    /// The document's root; nil for a file with no content (empty, or only comments).
    public static func compose(_ text: String) throws(SyntaxError) -> Node? {
        let b = Array(text.utf8)
        if let e = ConfigSyntaxLimits.sizeError(b) { throw e }
        var p = YAMLParser(b)
        return try p.document()
    }
}
