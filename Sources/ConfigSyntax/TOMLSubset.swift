/// TOML for iommud.toml — the part of TOML the file is written in, with the line of every key
/// for messages.
///
/// Why not a TOML library: the one available (TOMLKit) links Foundation, whose start-up costs
/// megabytes of idle RSS (see YAMLSubset); a config file needs none of it.
///
/// Read: comments; `[section]` headers; `[[name]]` headers (an array of tables: `[[expected]]`,
/// at most `ConfigSyntaxLimits.maxArrayTables` of one name); `key = value` lines with bare keys
/// (`A-Z a-z 0-9 _ -`), at the top or in a section; basic strings (`"…"`, with TOML's escapes) and literal strings
/// (`'…'`) on one line; integers (decimal, an optional sign, `_` between digits); `true` and
/// `false`; arrays of these, over several lines, with comments and a trailing comma, nested at
/// most `ConfigSyntaxLimits.maxDepth` deep. Refused, naming the line: the rest of TOML, for no
/// key of iommud.toml takes it (dotted and quoted keys, `[a.b]`, `[[a.b]]`, inline tables,
/// multi-line strings, floats, dates, `0x`/`0o`/`0b` integers), and texts over 1 MiB.
/// Linear in the length of the text.
public enum TOMLSubset {
    public indirect enum Value: Sendable, Equatable {
        case string(String)
        case integer(Int)
        case bool(Bool)
        case array([Value])
        /// A `[section]`, or one `[[name]]` table of an array: only in the document's top table.
        case table(Table)

        public var string: String? {
            if case .string(let s) = self { return s }
            return nil
        }
        public var int: Int? {
            if case .integer(let i) = self { return i }
            return nil
        }
        public var bool: Bool? {
            if case .bool(let b) = self { return b }
            return nil
        }
        public var array: [Value]? {
            if case .array(let a) = self { return a }
            return nil
        }
        public var table: Table? {
            if case .table(let t) = self { return t }
            return nil
        }
    }

    /// Keys in the order written, each with the line it was defined on (a section: its header's;
    /// an array of tables: its first header's).
    public struct Table: Sendable, Equatable {
        public struct Entry: Sendable, Equatable {
            public var key: String
            public var value: Value
            public var line: Int
        }

        public private(set) var entries: [Entry] = []
        private var index: [String: Int] = [:]
        /// The line of the `[section]` or `[[name]]` header that opened this table (nil: the top).
        public internal(set) var headerLine: Int?

        public init() {}

        public var keys: [String] { entries.map(\.key) }

        public subscript(key: String) -> Value? { index[key].map { entries[$0].value } }

        public func line(of key: String) -> Int? { index[key].map { entries[$0].line } }

        /// Adds a key; false when it is there already.
        mutating func add(_ key: String, _ value: Value, line: Int) -> Bool {
            guard index[key] == nil else { return false }
            index[key] = entries.count
            entries.append(Entry(key: key, value: value, line: line))
            return true
        }
    }

    public typealias SyntaxError = ConfigSyntaxError

    public static func parse(_ text: String) throws(SyntaxError) -> Table {
        let b = Array(text.utf8)
        if let e = ConfigSyntaxLimits.sizeError(b) { throw e }
        var p = TOMLParser(b)
        return try p.document()
    }

    /// `s` as a TOML basic string, quotes included (`iommud check-config` prints the effective
    /// configuration with it; `parse` reads it back as `s`).
    public static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if u.value < 0x20 || u.value == 0x7F {
                    let hex = String(u.value, radix: 16, uppercase: true)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
