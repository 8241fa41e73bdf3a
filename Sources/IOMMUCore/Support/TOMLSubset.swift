/// TOML for iommud.toml, with the line of every key for messages.
///
/// Why not a TOML library: the one available (TOMLKit) links Foundation, whose start-up costs
/// megabytes of idle RSS (see YAMLSubset); a config file needs none of it.
///
/// Read: tables (`[a]`, `[a.b]`, quoted names), bare, quoted and dotted keys, basic and literal
/// strings (one-line and multi-line, with TOML's escapes), integers (decimal, `0x`, `0o`, `0b`,
/// `_` separators), floats, booleans, arrays (over several lines, with comments and a trailing
/// comma) and inline tables. Dates and times are kept as their text (iommud has no date keys).
/// Not read, and reported as such: arrays of tables (`[[…]]`).
public enum TOMLSubset {
    public indirect enum Value: Sendable, Equatable {
        case string(String)
        case integer(Int)
        case float(Double)
        case bool(Bool)
        /// A date, time or date-time, as written.
        case datetime(String)
        case array([Value])
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

    /// Keys in the order written, each with the line it was defined on (for a table: its
    /// header's, or its first key's when only dotted keys made it).
    public struct Table: Sendable, Equatable {
        public private(set) var entries: [(key: String, value: Value, line: Int)] = []

        public init() {}

        public var keys: [String] { entries.map(\.key) }

        public subscript(key: String) -> Value? { entries.first { $0.key == key }?.value }

        public func line(of key: String) -> Int? { entries.first { $0.key == key }?.line }

        mutating func set(_ key: String, _ value: Value, line: Int) {
            if let i = entries.firstIndex(where: { $0.key == key }) {
                entries[i].value = value
            } else {
                entries.append((key, value, line))
            }
        }

        public static func == (l: Table, r: Table) -> Bool {
            l.entries.count == r.entries.count
                && zip(l.entries, r.entries).allSatisfy {
                    $0.key == $1.key && $0.value == $1.value && $0.line == $1.line
                }
        }
    }

    public typealias SyntaxError = ConfigSyntaxError

    public static func parse(_ text: String) throws(SyntaxError) -> Table {
        var p = TOMLParser(text)
        return try p.document()
    }
}

private struct TOMLParser {
    typealias Value = TOMLSubset.Value
    typealias Table = TOMLSubset.Table
    let c: [Character]
    var i = 0
    var line = 1
    var root = Table()
    /// Tables made by a `[header]` (may not be opened twice) and those made implicitly.
    var headers: Set<[String]> = []
    /// Inline tables and arrays may not be extended; their paths are kept here.
    var closed: Set<[String]> = []
    /// Keys defined by `key = value` (a dotted key's tables are implicit until a value lands).
    var defined: Set<[String]> = []

    /// Characters, with CRLF line ends made LF first (Swift keeps "\r\n" as one Character).
    init(_ text: String) { c = Array(text.unicodeScalars.contains("\r") ? text.replacing("\r\n", with: "\n") : text) }

    func fail(_ m: String, line: Int? = nil) -> TOMLSubset.SyntaxError {
        TOMLSubset.SyntaxError(line: line ?? self.line, message: m)
    }

    var atEnd: Bool { i >= c.count }
    var peek: Character? { i < c.count ? c[i] : nil }

    mutating func skipSpaces() {
        while let ch = peek, ch == " " || ch == "\t" { i += 1 }
    }

    /// Spaces, then a comment, then the end of the line (or of the text).
    mutating func endOfLine() throws(TOMLSubset.SyntaxError) {
        skipSpaces()
        if peek == "#" { while let ch = peek, ch != "\n" { i += 1 } }
        guard let ch = peek else { return }
        if ch == "\r" && i + 1 < c.count && c[i + 1] == "\n" { i += 1 }
        guard peek == "\n" else { throw fail("unexpected text '\(restOfLine())' after a value") }
        i += 1
        line += 1
    }

    func restOfLine() -> String {
        var k = i
        while k < c.count && c[k] != "\n" { k += 1 }
        return String(c[i..<k]).trimmingSpaces
    }

    /// Blank lines, comments and line ends inside arrays.
    mutating func skipBlankAndComments() {
        while let ch = peek {
            if ch == " " || ch == "\t" || ch == "\r" {
                i += 1
            } else if ch == "\n" {
                i += 1
                line += 1
            } else if ch == "#" {
                while let x = peek, x != "\n" { i += 1 }
            } else {
                return
            }
        }
    }

    mutating func document() throws(TOMLSubset.SyntaxError) -> Table {
        var current: [String] = []
        while true {
            skipBlankAndComments()
            guard let ch = peek else { return root }
            if ch == "[" {
                let headerLine = line
                i += 1
                if peek == "[" { throw fail("arrays of tables ([[…]]) are not supported") }
                skipSpaces()
                let path = try key()
                skipSpaces()
                guard peek == "]" else { throw fail("a table header must end with ']'") }
                i += 1
                if headers.contains(path) { throw fail("table [\(path.joined(separator: "."))] is defined twice") }
                if defined.contains(path) || closed.contains(path) {
                    throw fail("[\(path.joined(separator: "."))] is already a value")
                }
                headers.insert(path)
                try makeTable(path, line: headerLine)
                current = path
                try endOfLine()
            } else {
                let keyLine = line
                let k = try key()
                skipSpaces()
                guard peek == "=" else { throw fail("expected '=' after the key '\(k.joined(separator: "."))'") }
                i += 1
                skipSpaces()
                let v = try value(path: current + k)
                try assign(current + k, v, line: keyLine)
                try endOfLine()
            }
        }
    }

    // MARK: - Keys and tables

    /// A dotted key: bare or quoted parts.
    mutating func key() throws(TOMLSubset.SyntaxError) -> [String] {
        var parts: [String] = []
        while true {
            skipSpaces()
            guard let ch = peek else { throw fail("expected a key") }
            if ch == "\"" || ch == "'" {
                if i + 2 < c.count && c[i + 1] == ch && c[i + 2] == ch {
                    throw fail("a key can not be a multi-line string")
                }
                parts.append(try oneLineString())
            } else {
                let start = i
                while let x = peek, x.isASCII && (x.isLetter || x.isNumber || x == "_" || x == "-") { i += 1 }
                guard i > start else { throw fail("expected a key, found '\(ch)'") }
                parts.append(String(c[start..<i]))
            }
            skipSpaces()
            guard peek == "." else { return parts }
            i += 1
        }
    }

    /// Makes every table along `path` (implicitly, unless already there).
    mutating func makeTable(_ path: [String], line: Int) throws(TOMLSubset.SyntaxError) {
        root = try Self.withTable(root, path[...], line: line) { _ in }
    }

    mutating func assign(_ path: [String], _ v: Value, line: Int) throws(TOMLSubset.SyntaxError) {
        if defined.contains(path) || headers.contains(path) {
            throw fail("'\(path.joined(separator: "."))' is defined twice", line: line)
        }
        for n in 1..<path.count where closed.contains(Array(path.prefix(n))) || defined.contains(Array(path.prefix(n)))
        {
            throw fail("'\(path.prefix(n).joined(separator: "."))' is a value, not a table to add keys to", line: line)
        }
        defined.insert(path)
        let last = path.last!
        root = try Self.withTable(root, path.dropLast(), line: line) { t in t.set(last, v, line: line) }
    }

    /// `table` with `body` applied to the table at `path` (made when missing).
    static func withTable(
        _ table: Table, _ path: ArraySlice<String>, line: Int, _ body: (inout Table) -> Void
    ) throws(TOMLSubset.SyntaxError) -> Table {
        var t = table
        guard let first = path.first else {
            body(&t)
            return t
        }
        let sub: Table
        switch t[first] {
        case nil: sub = Table()
        case .table(let existing)?: sub = existing
        case _?: throw TOMLSubset.SyntaxError(line: line, message: "'\(first)' is a value, not a table")
        }
        t.set(first, .table(try withTable(sub, path.dropFirst(), line: line, body)), line: line)
        return t
    }

    // MARK: - Values

    mutating func value(path: [String]) throws(TOMLSubset.SyntaxError) -> Value {
        guard let ch = peek, ch != "\n", ch != "#" else { throw fail("a key without a value") }
        switch ch {
        case "\"", "'":
            if i + 2 < c.count && c[i + 1] == ch && c[i + 2] == ch { return .string(try multiLineString()) }
            return .string(try oneLineString())
        case "[":
            i += 1
            var items: [Value] = []
            while true {
                skipBlankAndComments()
                guard let x = peek else { throw fail("an array is not closed") }
                if x == "]" {
                    i += 1
                    closed.insert(path)
                    return .array(items)
                }
                items.append(try value(path: path))
                skipBlankAndComments()
                if peek == nil { throw fail("an array is not closed") }
                if peek == "," {
                    i += 1
                } else if peek != "]" {
                    throw fail("expected ',' or ']' in an array")
                }
            }
        case "{":
            i += 1
            var t = Table()
            var keys: Set<[String]> = []
            skipSpaces()
            if peek == "}" {
                i += 1
                closed.insert(path)
                return .table(t)
            }
            while true {
                skipSpaces()
                if peek == nil || peek == "\n" || peek == "\r" {
                    throw fail("an inline table must be written on one line")
                }
                let k = try key()
                skipSpaces()
                guard peek == "=" else { throw fail("expected '=' in an inline table") }
                i += 1
                skipSpaces()
                let v = try value(path: path + k)
                if keys.contains(k) { throw fail("'\(k.joined(separator: "."))' is defined twice") }
                keys.insert(k)
                let last = k.last!
                t = try Self.withTable(t, k.dropLast(), line: line) { $0.set(last, v, line: line) }
                skipSpaces()
                if peek == "," {
                    i += 1
                } else if peek == "}" {
                    i += 1
                    closed.insert(path)
                    return .table(t)
                } else {
                    throw fail("expected ',' or '}' in an inline table (written on one line)")
                }
            }
        default:
            return try bareValue()
        }
    }

    static let delimiters: Set<Character> = [" ", "\t", "\r", "\n", ",", "]", "}", "#"]

    /// true, false, a number, or a date/time: the token up to a delimiter.
    mutating func bareValue() throws(TOMLSubset.SyntaxError) -> Value {
        let start = i
        while let x = peek, !Self.delimiters.contains(x) { i += 1 }
        // A date-time may have one space between date and time.
        if i - start == 10, peek == " ", i + 1 < c.count, c[i + 1].isASCII, c[i + 1].isNumber,
            c[start + 4] == "-"
        {
            i += 1
            while let x = peek, !Self.delimiters.contains(x) { i += 1 }
        }
        let t = String(c[start..<i])
        if t == "true" { return .bool(true) }
        if t == "false" { return .bool(false) }
        if let n = Self.integer(t) { return .integer(n) }
        if let d = Self.float(t) { return .float(d) }
        if Self.isDateTime(t) { return .datetime(t) }
        throw fail(t.isEmpty ? "a key without a value" : "'\(t)' is not a TOML value (strings take quotes)")
    }

    static func integer(_ t: String) -> Int? {
        var s = Substring(t)
        var sign = 1
        if let f = s.first, f == "+" || f == "-" {
            sign = f == "-" ? -1 : 1
            s = s.dropFirst()
        }
        var radix = 10
        if s.hasPrefix("0x") || s.hasPrefix("0o") || s.hasPrefix("0b") {
            guard sign == 1, t.first != "+" else { return nil }
            radix = s.hasPrefix("0x") ? 16 : s.hasPrefix("0o") ? 8 : 2
            s = s.dropFirst(2)
        } else if s.count > 1 && s.first == "0" {
            return nil  // no leading zeros
        }
        guard !s.isEmpty, s.first != "_", s.last != "_", !s.contains("__") else { return nil }
        return Int(s.filter { $0 != "_" }, radix: radix).map { $0 * sign }
    }

    static func float(_ t: String) -> Double? {
        switch t {
        case "inf", "+inf": return .infinity
        case "-inf": return -.infinity
        case "nan", "+nan", "-nan": return .nan
        default: break
        }
        guard t.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }),
            t.allSatisfy({ $0.isASCII && ($0.isNumber || "+-.eE_".contains($0)) }), !t.contains("__"),
            !t.hasPrefix("."), !t.hasSuffix(".")
        else { return nil }
        return Double(t.filter { $0 != "_" })
    }

    static func isDateTime(_ t: String) -> Bool {
        let b = Array(t.utf8)
        func digits(_ r: Range<Int>) -> Bool { r.upperBound <= b.count && b[r].allSatisfy { $0 >= 48 && $0 <= 57 } }
        let date =
            digits(0..<4) && b.count >= 10 && b[4] == UInt8(ascii: "-") && digits(5..<7) && b[7] == UInt8(ascii: "-")
            && digits(8..<10)
        let time =
            digits(0..<2) && b.count >= 8 && b[2] == UInt8(ascii: ":") && digits(3..<5)
            && b[5] == UInt8(ascii: ":")
        return date || time
    }

    // MARK: - Strings

    mutating func oneLineString() throws(TOMLSubset.SyntaxError) -> String {
        let q = c[i]
        i += 1
        var out = ""
        while let ch = peek {
            i += 1
            if ch == q { return out }
            if ch == "\n" { break }
            if ch == "\\" && q == "\"" {
                out.unicodeScalars.append(contentsOf: try escape().unicodeScalars)
            } else {
                out.append(ch)
            }
        }
        throw fail("a string is not closed on its line")
    }

    mutating func multiLineString() throws(TOMLSubset.SyntaxError) -> String {
        let q = c[i]
        i += 3
        // A newline right after the opening quotes is not part of the string.
        if peek == "\r" && i + 1 < c.count && c[i + 1] == "\n" { i += 1 }
        if peek == "\n" {
            i += 1
            line += 1
        }
        var out = ""
        while let ch = peek {
            if ch == q && i + 2 < c.count && c[i + 1] == q && c[i + 2] == q {
                i += 3
                // Up to two more quotes belong to the string.
                var extra = 0
                while peek == q && extra < 2 {
                    out.append(q)
                    i += 1
                    extra += 1
                }
                return out
            }
            i += 1
            if ch == "\n" { line += 1 }
            if ch == "\\" && q == "\"" {
                // A line-ending backslash trims the newline and the blanks that follow.
                var k = i
                while k < c.count && (c[k] == " " || c[k] == "\t") { k += 1 }
                if k < c.count && (c[k] == "\n" || c[k] == "\r") {
                    i = k
                    while let x = peek, x == " " || x == "\t" || x == "\n" || x == "\r" {
                        if x == "\n" { line += 1 }
                        i += 1
                    }
                    continue
                }
                out.unicodeScalars.append(contentsOf: try escape().unicodeScalars)
            } else {
                out.append(ch)
            }
        }
        throw fail("a multi-line string is not closed")
    }

    /// After a backslash in a basic string.
    mutating func escape() throws(TOMLSubset.SyntaxError) -> String {
        guard let e = peek else { throw fail("a string is not closed") }
        i += 1
        switch e {
        case "b": return "\u{08}"
        case "t": return "\t"
        case "n": return "\n"
        case "f": return "\u{0C}"
        case "r": return "\r"
        case "e": return "\u{1B}"
        case "\"": return "\""
        case "\\": return "\\"
        case "u", "U":
            let n = e == "u" ? 4 : 8
            guard i + n <= c.count, let v = UInt32(String(c[i..<i + n]), radix: 16), let s = Unicode.Scalar(v) else {
                throw fail("a bad \\\(e) escape")
            }
            i += n
            return String(s)
        default: throw fail("unknown escape '\\\(e)'")
        }
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" || s.last == "\r" { s = s.dropLast() }
        return String(s)
    }
}
