/// The reader behind `TOMLSubset.parse`: one pass over the UTF-8 bytes, recursing only into
/// nested arrays (at most `ConfigSyntaxLimits.maxDepth`).
struct TOMLParser {
    typealias Value = TOMLSubset.Value
    typealias Table = TOMLSubset.Table
    typealias SyntaxError = ConfigSyntaxError
    let b: [UInt8]
    var i = 0
    var line = 1

    init(_ b: [UInt8]) { self.b = b }

    func fail(_ m: String, line: Int? = nil) -> SyntaxError { SyntaxError(line: line ?? self.line, message: m) }

    var peek: UInt8? { i < b.count ? b[i] : nil }

    func peek(_ k: Int) -> UInt8? { i + k < b.count ? b[i + k] : nil }

    mutating func skipSpaces() {
        while let c = peek, c == space || c == tab { i += 1 }
    }

    mutating func skipComment() {
        if peek == hash { while let c = peek, c != newline { i += 1 } }
    }

    /// Spaces, a comment, then the end of the line (or of the text).
    mutating func endOfLine() throws(SyntaxError) {
        skipSpaces()
        skipComment()
        if peek == carriageReturn && peek(1) == newline { i += 1 }
        guard let c = peek else { return }
        guard c == newline else {
            throw fail("unexpected text '\(ConfigSyntaxError.excerpt(restOfLine()))' after a value")
        }
        i += 1
        line += 1
    }

    func restOfLine() -> String {
        var k = i
        while k < b.count && b[k] != newline && b[k] != carriageReturn { k += 1 }
        return String(decoding: b[i..<k], as: UTF8.self)
    }

    /// Blank lines, comments and line ends (between keys, and inside arrays).
    mutating func skipBlankAndComments() {
        while let c = peek {
            if c == space || c == tab || c == carriageReturn {
                i += 1
            } else if c == newline {
                i += 1
                line += 1
            } else if c == hash {
                skipComment()
            } else {
                return
            }
        }
    }

    /// A `[name]` or `[[name]]` header and the keys under it.
    struct Section {
        var name: String
        var line: Int
        var table: Table
        /// `[[name]]`: one table of an array of tables.
        var isArrayElement: Bool
    }

    mutating func document() throws(SyntaxError) -> Table {
        var top = Table()
        var sections: [Section] = []
        // name → (line of its first header, tables so far, an array of tables?)
        var headers: [String: (line: Int, count: Int, isArray: Bool)] = [:]
        while true {
            skipBlankAndComments()
            guard let c = peek else { break }
            if c == UInt8(ascii: "[") {
                i += 1
                let isArray = peek == UInt8(ascii: "[")
                if isArray { i += 1 }
                skipSpaces()
                let name = try key(what: "a table name")
                skipSpaces()
                if peek == UInt8(ascii: ".") {
                    throw fail("nested tables ([a.b]) are not supported: iommud.toml has one level of [section]")
                }
                guard peek == UInt8(ascii: "]"), !isArray || peek(1) == UInt8(ascii: "]") else {
                    throw fail(
                        isArray ? "an array-of-tables header must end with ']]'" : "a table header must end with ']'")
                }
                i += isArray ? 2 : 1
                let shown = ConfigSyntaxError.excerpt(name)
                if top[name] != nil { throw fail("[\(shown)] is already a value") }
                if let first = headers[name] {
                    switch (first.isArray, isArray) {
                    case (false, false):
                        throw fail("table [\(shown)] is defined twice (first on line \(first.line))")
                    case (false, true):
                        throw fail("[[\(shown)]]: [\(shown)] is a table (line \(first.line)), not an array of tables")
                    case (true, false):
                        throw fail(
                            "[\(shown)]: [[\(shown)]] is an array of tables (line \(first.line)); write [[\(shown)]]")
                    case (true, true):
                        guard first.count < ConfigSyntaxLimits.maxArrayTables else {
                            throw fail(
                                "more than \(ConfigSyntaxLimits.maxArrayTables) [[\(shown)]] tables: a config file needs far fewer"
                            )
                        }
                        headers[name]!.count += 1
                    }
                } else {
                    headers[name] = (line, 1, isArray)
                }
                var table = Table()
                table.headerLine = line
                sections.append(Section(name: name, line: line, table: table, isArrayElement: isArray))
            } else {
                let keyLine = line
                let k = try key(what: "a key")
                skipSpaces()
                if peek == UInt8(ascii: ".") {
                    throw fail(
                        "dotted keys are not supported: write '\(ConfigSyntaxError.excerpt(k))' and what follows under a [section]"
                    )
                }
                guard peek == UInt8(ascii: "=") else {
                    throw fail("expected '=' after the key '\(ConfigSyntaxError.excerpt(k))'")
                }
                i += 1
                skipSpaces()
                let v = try value(depth: 0, key: sections.last.map { "\($0.name).\(k)" } ?? k)
                if sections.isEmpty {
                    guard top.add(k, v, line: keyLine) else {
                        throw fail("'\(ConfigSyntaxError.excerpt(k))' is defined twice", line: keyLine)
                    }
                } else {
                    let s = sections.count - 1
                    guard sections[s].table.add(k, v, line: keyLine) else {
                        throw fail(
                            "'\(ConfigSyntaxError.excerpt(sections[s].name + "." + k, limit: 80))' is defined twice",
                            line: keyLine)
                    }
                }
            }
            try endOfLine()
        }
        // An array of tables is one value of the top table, at its first header, holding its
        // tables in the order written.
        var arrays: [String: [Value]] = [:]
        for s in sections where s.isArrayElement { arrays[s.name, default: []].append(.table(s.table)) }
        for s in sections {
            if !s.isArrayElement {
                _ = top.add(s.name, .table(s.table), line: s.line)
            } else if let tables = arrays.removeValue(forKey: s.name) {
                _ = top.add(s.name, .array(tables), line: s.line)
            }
        }
        return top
    }

    /// A bare key: ASCII letters, digits, `_` and `-`.
    mutating func key(what: String) throws(SyntaxError) -> String {
        let start = i
        while let c = peek, isBareKey(c) { i += 1 }
        guard i > start else {
            if peek == quote || peek == apostrophe { throw fail("quoted keys are not supported: write \(what) bare") }
            throw fail("expected \(what), found '\(ConfigSyntaxError.excerpt(restOfLine(), limit: 10))'")
        }
        return String(decoding: b[start..<i], as: UTF8.self)
    }

    func isBareKey(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x5F || c == 0x2D
    }

    // MARK: - Values

    mutating func value(depth: Int, key: String) throws(SyntaxError) -> Value {
        guard let c = peek, c != newline, c != carriageReturn, c != hash else { throw fail("a key without a value") }
        switch c {
        case quote, apostrophe:
            if peek(1) == c && peek(2) == c { throw fail("multi-line strings are not supported") }
            return .string(try string())
        case UInt8(ascii: "["):
            guard depth < ConfigSyntaxLimits.maxDepth else {
                throw ConfigSyntaxLimits.depthError(line: line, what: "arrays")
            }
            i += 1
            var items: [Value] = []
            while true {
                skipBlankAndComments()
                guard let x = peek else { throw fail("an array is not closed") }
                if x == UInt8(ascii: "]") {
                    i += 1
                    return .array(items)
                }
                items.append(try value(depth: depth + 1, key: key))
                skipBlankAndComments()
                guard let y = peek else { throw fail("an array is not closed") }
                if y == UInt8(ascii: ",") {
                    i += 1
                } else if y != UInt8(ascii: "]") {
                    throw fail("expected ',' or ']' in an array")
                }
            }
        case UInt8(ascii: "{"):
            throw fail("inline tables ({…}) are not supported: no key of iommud.toml takes one")
        default:
            return try bareValue(key: key)
        }
    }

    /// `true`, `false` or an integer: the token up to a delimiter. (`key` is for messages.)
    mutating func bareValue(key: String) throws(SyntaxError) -> Value {
        let start = i
        while let c = peek, !Self.isDelimiter(c) { i += 1 }
        let t = b[start..<i]
        guard !t.isEmpty else { throw fail("expected a value, found '\(String(decoding: [b[i]], as: UTF8.self))'") }
        if t.elementsEqual("true".utf8) { return .bool(true) }
        if t.elementsEqual("false".utf8) { return .bool(false) }
        let text = ConfigSyntaxError.excerpt(String(decoding: t, as: UTF8.self))
        switch Self.integer(t) {
        case .some(.some(let n)): return .integer(n)
        case .some(.none):
            throw fail(
                "'\(ConfigSyntaxError.excerpt(key, limit: 80))': \(text) is too large a number (more than \(Int.max))")
        case .none: break
        }
        let first = t.first!
        func has(_ chars: String) -> Bool { t.contains { chars.utf8.contains($0) } }
        let numeric = first == 0x2B || first == 0x2D || (first >= 0x30 && first <= 0x39)
        if numeric && t.count > 1 && first == 0x30 && "xob".utf8.contains(t[t.startIndex + 1]) {
            throw fail("'\(text)' is not a TOML value iommud reads: write numbers in decimal")
        }
        if numeric && has(":") || (t.count >= 10 && t.prefix(4).allSatisfy { $0 >= 0x30 && $0 <= 0x39 } && has("-")) {
            throw fail("'\(text)' is not a TOML value iommud reads: no key takes a date or a time")
        }
        if (numeric && has(".eE"))
            || ["inf", "+inf", "-inf", "nan", "+nan", "-nan"].contains(where: {
                t.elementsEqual($0.utf8)
            })
        {
            throw fail("'\(text)' is not a TOML value iommud reads: numbers are whole")
        }
        throw fail("'\(text)' is not a TOML value (strings take quotes)")
    }

    static func isDelimiter(_ c: UInt8) -> Bool {
        c == space || c == tab || c == carriageReturn || c == newline || c == UInt8(ascii: ",")
            || c == UInt8(ascii: "]") || c == UInt8(ascii: "}") || c == hash
    }

    /// A decimal integer (`-12`, `1_000`): nil when the token is not one, `.some(nil)` when it
    /// is one too large for an `Int`.
    static func integer(_ t: ArraySlice<UInt8>) -> Int?? {
        var digits = t[...]
        var negative = false
        if let f = digits.first, f == UInt8(ascii: "+") || f == UInt8(ascii: "-") {
            negative = f == UInt8(ascii: "-")
            digits = digits.dropFirst()
        }
        guard let first = digits.first, first >= 0x30, first <= 0x39, digits.last != 0x5F else { return nil }
        if first == 0x30 && digits.count > 1 { return nil }  // no leading zeros
        var n = 0
        var overflow = false
        var previousUnderscore = false
        for c in digits {
            if c == 0x5F {
                if previousUnderscore { return nil }
                previousUnderscore = true
                continue
            }
            guard c >= 0x30 && c <= 0x39 else { return nil }
            previousUnderscore = false
            let d = Int(c - 0x30)
            let (m, o1) = n.multipliedReportingOverflow(by: 10)
            let (a, o2) = negative ? m.subtractingReportingOverflow(d) : m.addingReportingOverflow(d)
            if o1 || o2 { overflow = true } else { n = a }
        }
        return overflow ? .some(nil) : .some(n)
    }

    // MARK: - Strings

    /// A basic (`"…"`, with escapes) or literal (`'…'`) string on one line.
    mutating func string() throws(SyntaxError) -> String {
        let q = b[i]
        i += 1
        var out: [UInt8] = []
        while let c = peek {
            if c == q {
                i += 1
                return String(decoding: out, as: UTF8.self)
            }
            if c == newline || c == carriageReturn { break }
            if c == backslash && q == quote {
                i += 1
                try escape(into: &out)
                continue
            }
            if (c < 0x20 && c != tab) || c == 0x7F {
                throw fail("a control character in a string (write it as an escape, e.g. \\u0001)")
            }
            out.append(c)
            i += 1
        }
        throw fail("a string is not closed on its line")
    }

    /// After a backslash in a basic string.
    mutating func escape(into out: inout [UInt8]) throws(SyntaxError) {
        guard let e = peek, e != newline, e != carriageReturn else { throw fail("a string is not closed on its line") }
        i += 1
        switch e {
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "t"): out.append(tab)
        case UInt8(ascii: "n"): out.append(newline)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "r"): out.append(carriageReturn)
        case UInt8(ascii: "e"): out.append(0x1B)
        case quote, backslash: out.append(e)
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            let n = e == UInt8(ascii: "u") ? 4 : 8
            guard i + n <= b.count, let v = hexValue(b[i..<(i + n)]), let s = Unicode.Scalar(v) else {
                throw fail("a bad \\\(Character(Unicode.Scalar(e))) escape")
            }
            i += n
            out.append(contentsOf: String(s).utf8)
        default:
            let shown = e < 0x80 && e >= 0x20 ? String(Character(Unicode.Scalar(e))) : "…"
            throw fail("unknown escape '\\\(shown)'")
        }
    }
}
