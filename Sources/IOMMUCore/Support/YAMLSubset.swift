/// The YAML that configuration files are written in — enough for the exporter-toolkit web
/// config (`[http] web_config`) and nothing more, with the line of every node for messages.
///
/// Why not a YAML library: the one available (Yams) brings Foundation, CoreFoundation and ICU
/// into the daemon, and their start-up alone cost 5 MB of idle RSS on a process that must stay
/// small on every node of a fleet (bench/: memory). The web config needs a small part of YAML.
///
/// Supported: block mappings and sequences (a sequence may sit at its key's indentation, and a
/// sequence item may open a mapping: `- key: value`), flow sequences and mappings (`[a, b]`,
/// `{k: v}`, over several lines), plain, single- and double-quoted scalars (with YAML's
/// escapes), literal and folded block scalars (`|`, `>`, with `-`/`+` chomping), comments, a
/// leading `---`. Plain scalars resolve as YAML 1.1 does for null, booleans (`true`, `yes`,
/// `on`, …) and integers; quoted ones are always strings. Not supported, and reported as such:
/// anchors, aliases, tags, multi-document streams, complex (`?`) keys.
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

        /// A plain integer: decimal with an optional sign, `0x` hexadecimal or `0o` octal.
        public var int: Int? {
            guard case .scalar(let s, quoted: false) = value else { return nil }
            var t = Substring(s)
            var negative = false
            if let f = t.first, f == "-" || f == "+" {
                negative = f == "-"
                t = t.dropFirst()
            }
            let v: Int?
            if t.hasPrefix("0x") {
                v = Int(t.dropFirst(2), radix: 16)
            } else if t.hasPrefix("0o") {
                v = Int(t.dropFirst(2), radix: 8)
            } else if !t.isEmpty && t.allSatisfy({ $0.isASCII && $0.isNumber }) {
                v = Int(t)
            } else {
                v = nil
            }
            return v.map { negative ? -$0 : $0 }
        }
    }

    public typealias SyntaxError = ConfigSyntaxError

    /// The document's root; nil for a file with no content (empty, or only comments).
    public static func compose(_ text: String) throws(SyntaxError) -> Node? {
        var p = Parser(text)
        return try p.document()
    }
}

/// Line-oriented recursive descent over the block structure; flow collections and quoted
/// scalars are read character by character.
private struct Parser {
    /// Each line's characters (without its newline).
    var lines: [[Character]]
    /// The line being read (0-based), and where its structure starts when part of it has been
    /// consumed already (`- key: v` continues as a mapping after the dash).
    var row = 0
    var columnOverride: (row: Int, column: Int)?

    init(_ text: String) {
        // CRLF made LF first: Swift keeps "\r\n" as one Character, which no "\n" would match.
        let lf = text.unicodeScalars.contains("\r") ? text.replacing("\r\n", with: "\n") : text
        lines = lf.split(separator: "\n", omittingEmptySubsequences: false).map { Array($0) }
    }

    typealias Node = YAMLSubset.Node

    func fail(_ message: String, row: Int? = nil) -> YAMLSubset.SyntaxError {
        YAMLSubset.SyntaxError(line: min(row ?? self.row, lines.count - 1) + 1, message: message)
    }

    // MARK: - Lines

    /// Where line `r`'s content starts, and the content without its comment and trailing blanks;
    /// nil for a blank or comment-only line.
    func content(_ r: Int) throws(YAMLSubset.SyntaxError) -> (indent: Int, text: ArraySlice<Character>)? {
        let line = lines[r]
        var i = 0
        if let o = columnOverride, o.row == r {
            i = o.column
        } else {
            while i < line.count && line[i] == " " { i += 1 }
            if i < line.count && line[i] == "\t" {
                throw fail("a tab in the indentation (YAML indents with spaces)", row: r)
            }
        }
        var end = i
        var quote: Character?
        var k = i
        while k < line.count {
            let c = line[k]
            if let q = quote {
                if c == q {
                    if q == "'" && k + 1 < line.count && line[k + 1] == "'" {
                        k += 1
                    } else {
                        quote = nil
                    }
                } else if c == "\\" && q == "\"" {
                    k += 1
                }
            } else if c == "#" && (k == i || line[k - 1] == " " || line[k - 1] == "\t") {
                break
            } else if (c == "\"" || c == "'") && (k == i || " \t[{,:-".contains(line[k - 1])) {
                quote = c
            }
            k += 1
            if quote == nil { end = k }
        }
        if quote != nil { end = min(k, line.count) }  // an unclosed quote runs to the line's end
        while end > i && (line[end - 1] == " " || line[end - 1] == "\t") { end -= 1 }
        return end > i ? (i, line[i..<end]) : nil
    }

    /// Moves to the next line with content; false at the end of the text.
    mutating func skipBlank() throws(YAMLSubset.SyntaxError) -> Bool {
        while row < lines.count {
            if try content(row) != nil { return true }
            row += 1
        }
        return false
    }

    // MARK: - Block structure

    mutating func document() throws(YAMLSubset.SyntaxError) -> Node? {
        guard try skipBlank() else { return nil }
        if let c = try content(row), String(c.text) == "---" || c.text.starts(with: "--- ") {
            if c.text.count > 3 { throw fail("content after '---' is not supported") }
            row += 1
            guard try skipBlank() else { return nil }
        }
        let indent = try content(row)!.indent
        let root = try block(indent: indent)
        if try skipBlank() {
            let c = try content(row)!
            if String(c.text) == "---" || String(c.text) == "..." {
                throw fail("more than one document in the file")
            }
            throw fail("unexpected indentation or content after the document's end")
        }
        return root
    }

    /// The node whose first line is the current one, at exactly `indent`.
    mutating func block(indent: Int) throws(YAMLSubset.SyntaxError) -> Node {
        let c = try content(row)!
        if c.text.first == "-" && (c.text.count == 1 || c.text.dropFirst().first == " ") {
            return try sequence(indent: indent)
        }
        if try keySplit(c.text) != nil { return try mapping(indent: indent) }
        // A lone scalar or flow collection.
        let line = row
        let node = try inlineValue(c.text, line: line, parentIndent: indent - 1)
        row = max(row, line + 1)
        return node
    }

    mutating func sequence(indent: Int) throws(YAMLSubset.SyntaxError) -> Node {
        var items: [Node] = []
        let first = row
        while try skipBlank() {
            let c = try content(row)!
            guard c.indent == indent, c.text.first == "-", c.text.count == 1 || c.text.dropFirst().first == " " else {
                if c.indent > indent { throw fail("unexpected indentation in a sequence") }
                break
            }
            var rest = c.text.dropFirst()
            var column = c.indent + 1
            while rest.first == " " {
                rest = rest.dropFirst()
                column += 1
            }
            if rest.isEmpty {
                // The item is the block below, or null.
                let line = row
                row += 1
                if try skipBlank(), let n = try content(row), n.indent > indent {
                    items.append(try block(indent: n.indent))
                } else {
                    items.append(Node(value: .null, line: line + 1))
                }
            } else {
                // The item starts on the dash's line: read that line again from its column.
                columnOverride = (row, column)
                items.append(try block(indent: column))
                columnOverride = nil
            }
        }
        return Node(value: .sequence(items), line: first + 1)
    }

    mutating func mapping(indent: Int) throws(YAMLSubset.SyntaxError) -> Node {
        var pairs: [Node.Pair] = []
        var seen: [String: Int] = [:]
        let first = row
        while try skipBlank() {
            let c = try content(row)!
            if c.indent != indent {
                if c.indent > indent { throw fail("unexpected indentation in a mapping") }
                break
            }
            if c.text.elementsEqual("---") || c.text.elementsEqual("...") { break }  // the document's end
            guard let (key, rest) = try keySplit(c.text) else {
                if c.text.first == "-" { throw fail("a sequence item where a key was expected") }
                throw fail("expected 'key: value'")
            }
            let line = row
            if let k = key.string {
                if let earlier = seen[k] { throw fail("duplicate key '\(k)' (first on line \(earlier))") }
                seen[k] = line + 1
            }
            let value: Node
            if rest.isEmpty {
                row += 1
                columnOverride = nil
                if try skipBlank(), let n = try content(row),
                    n.indent > indent
                        || (n.indent == indent && n.text.first == "-"
                            && (n.text.count == 1 || n.text.dropFirst().first == " "))
                {
                    value = try block(indent: n.indent)
                } else {
                    value = Node(value: .null, line: line + 1)
                }
            } else {
                columnOverride = nil
                value = try inlineValue(rest, line: line, parentIndent: indent)
                row = max(row, line + 1)
            }
            pairs.append(Node.Pair(key: key, value: value))
        }
        return Node(value: .mapping(pairs), line: first + 1)
    }

    /// `key: rest` → the key and what follows the colon (trimmed); nil when the text is not a
    /// mapping entry.
    func keySplit(_ t: ArraySlice<Character>) throws(YAMLSubset.SyntaxError) -> (Node, ArraySlice<Character>)? {
        guard let f = t.first else { return nil }
        if f == "?" && (t.count == 1 || t.dropFirst().first == " ") {
            throw fail("complex keys ('? ') are not supported")
        }
        if f == "[" || f == "{" { return nil }
        var i = t.startIndex
        let key: Node
        if f == "\"" || f == "'" {
            var r = Reader(t, line: row, parser: self)
            let s = try r.quoted()
            i = r.i
            while i < t.endIndex && t[i] == " " { i += 1 }
            guard i < t.endIndex, t[i] == ":" else { return nil }
            key = Node(value: .scalar(s, quoted: true), line: row + 1)
        } else {
            while i < t.endIndex {
                if t[i] == ":" && (i + 1 == t.endIndex || t[i + 1] == " ") { break }
                i += 1
            }
            guard i < t.endIndex else { return nil }
            var k = t[t.startIndex..<i]
            while k.last == " " { k = k.dropLast() }
            try checkUnsupported(k)
            key = Node(value: k.isEmpty ? .null : .scalar(String(k), quoted: false), line: row + 1)
        }
        var rest = t[(i + 1)...]
        while rest.first == " " { rest = rest.dropFirst() }
        return (key, rest)
    }

    func checkUnsupported(_ s: ArraySlice<Character>) throws(YAMLSubset.SyntaxError) {
        switch s.first {
        case "&": throw fail("anchors ('&') are not supported")
        case "*": throw fail("aliases ('*') are not supported")
        case "!": throw fail("tags ('!') are not supported")
        case "%": throw fail("directives ('%') are not supported")
        case "@", "`": throw fail("a plain scalar can not start with '\(s.first!)'")
        default: return
        }
    }

    // MARK: - Values on a line

    /// A value that starts on line `line` after a key or a dash: a block scalar, a flow
    /// collection (which may run over the next lines), a quoted or a plain scalar.
    mutating func inlineValue(_ t: ArraySlice<Character>, line: Int, parentIndent: Int) throws(YAMLSubset.SyntaxError)
        -> Node
    {
        switch t.first {
        case "|", ">":
            return try blockScalar(t, line: line, parentIndent: parentIndent)
        case "[", "{":
            // Join lines until the brackets close.
            var text = Array(t)
            var r = line
            while true {
                var reader = Reader(text[...], line: line, parser: self)
                do throws(YAMLSubset.SyntaxError) {
                    let node = try reader.flow()
                    reader.skipSpaces()
                    if reader.i < reader.t.endIndex { throw fail("unexpected text after a flow collection", row: r) }
                    row = r + 1
                    return node
                } catch let e where e.message == Reader.unterminated {
                    r += 1
                    guard r < lines.count else { throw fail("a flow collection is not closed", row: r) }
                    if let c = try content(r) { text += [" "] + c.text }
                }
            }
        case "\"", "'":
            var r = Reader(t, line: line, parser: self)
            let s: String
            do throws(YAMLSubset.SyntaxError) {
                s = try r.quoted()
            } catch let e where e.message == Reader.unterminated {
                throw fail(
                    "a quoted string is not closed on its line (multi-line quoted strings are not supported)", row: line
                )
            }
            r.skipSpaces()
            if r.i < t.endIndex { throw fail("unexpected text after a quoted string", row: line) }
            return Node(value: .scalar(s, quoted: true), line: line + 1)
        default:
            try checkUnsupported(t)
            return Node(value: Reader.plain(String(t)), line: line + 1)
        }
    }

    /// `|` or `>`, with an optional chomping indicator: the more-indented lines below.
    mutating func blockScalar(_ t: ArraySlice<Character>, line: Int, parentIndent: Int) throws(YAMLSubset.SyntaxError)
        -> Node
    {
        let folded = t.first == ">"
        var chomp: Character = " "
        for c in t.dropFirst() {
            if c == "-" || c == "+" {
                chomp = c
            } else {
                throw fail("block scalar indicators other than - and + are not supported", row: line)
            }
        }
        var body: [String] = []
        var contentIndent: Int?
        var r = line + 1
        while r < lines.count {
            let l = lines[r]
            let indent = l.prefix { $0 == " " }.count
            if indent == l.count {  // blank
                body.append("")
                r += 1
                continue
            }
            if indent <= parentIndent { break }
            if contentIndent == nil { contentIndent = indent }
            if indent < contentIndent! { break }
            body.append(String(l[contentIndent!...]))
            r += 1
        }
        row = r
        // Trailing blank lines belong to the chomping, not the content.
        var trailing = 0
        while let last = body.last, last.isEmpty {
            body.removeLast()
            trailing += 1
        }
        var text: String
        if folded {
            text = ""
            // A break between two lines of text folds into a space; each empty line is a newline.
            for (i, l) in body.enumerated() {
                if l.isEmpty {
                    text += "\n"
                } else {
                    if i > 0 && !body[i - 1].isEmpty { text += " " }
                    text += l
                }
            }
        } else {
            text = body.joined(separator: "\n")
        }
        switch chomp {
        case "-": break
        case "+": text += String(repeating: "\n", count: body.isEmpty ? trailing : trailing + 1)
        default: if !body.isEmpty { text += "\n" }
        }
        return Node(value: .scalar(text, quoted: true), line: line + 1)
    }
}

/// Characters of one (possibly joined) line: quoted scalars and flow collections.
private struct Reader {
    static let unterminated = "unterminated"
    let t: ArraySlice<Character>
    var i: Int
    let line: Int
    let parser: Parser

    init(_ t: ArraySlice<Character>, line: Int, parser: Parser) {
        self.t = t
        self.i = t.startIndex
        self.line = line
        self.parser = parser
    }

    func fail(_ m: String) -> YAMLSubset.SyntaxError { parser.fail(m, row: line) }

    mutating func skipSpaces() {
        while i < t.endIndex && (t[i] == " " || t[i] == "\t") { i += 1 }
    }

    /// A plain scalar's value: null, or the text (booleans and numbers stay text until asked).
    static func plain(_ s: String) -> YAMLSubset.Node.Value {
        switch s {
        case "", "~", "null", "Null", "NULL": return .null
        default: return .scalar(s, quoted: false)
        }
    }

    mutating func quoted() throws(YAMLSubset.SyntaxError) -> String {
        let q = t[i]
        i += 1
        var out = ""
        while i < t.endIndex {
            let c = t[i]
            i += 1
            if c == q {
                if q == "'" && i < t.endIndex && t[i] == "'" {
                    out.append("'")
                    i += 1
                    continue
                }
                return out
            }
            if c == "\\" && q == "\"" {
                guard i < t.endIndex else { break }
                let e = t[i]
                i += 1
                switch e {
                case "0": out.append("\0")
                case "a": out.append("\u{07}")
                case "b": out.append("\u{08}")
                case "t", "\t": out.append("\t")
                case "n": out.append("\n")
                case "v": out.append("\u{0B}")
                case "f": out.append("\u{0C}")
                case "r": out.append("\r")
                case "e": out.append("\u{1B}")
                case " ": out.append(" ")
                case "\"": out.append("\"")
                case "/": out.append("/")
                case "\\": out.append("\\")
                case "N": out.append("\u{85}")
                case "_": out.append("\u{A0}")
                case "x", "u", "U":
                    let n = e == "x" ? 2 : e == "u" ? 4 : 8
                    guard i + n <= t.endIndex, let v = UInt32(String(t[i..<i + n]), radix: 16),
                        let scalar = Unicode.Scalar(v)
                    else { throw fail("a bad \\\(e) escape in a double-quoted string") }
                    out.unicodeScalars.append(scalar)
                    i += n
                default: throw fail("unknown escape '\\\(e)' in a double-quoted string")
                }
                continue
            }
            out.append(c)
        }
        throw fail(Reader.unterminated)
    }

    /// `[…]` or `{…}` at `i`.
    mutating func flow() throws(YAMLSubset.SyntaxError) -> YAMLSubset.Node {
        let open = t[i]
        let close: Character = open == "[" ? "]" : "}"
        i += 1
        var items: [YAMLSubset.Node] = []
        var pairs: [YAMLSubset.Node.Pair] = []
        var seen: Set<String> = []
        while true {
            skipSpaces()
            guard i < t.endIndex else { throw fail(Reader.unterminated) }
            if t[i] == close {
                i += 1
                break
            }
            let first = try flowScalarOrCollection(stopAtColon: open == "{")
            skipSpaces()
            if open == "{" {
                guard i < t.endIndex else { throw fail(Reader.unterminated) }
                var value = YAMLSubset.Node(value: .null, line: line + 1)
                if t[i] == ":" {
                    i += 1
                    skipSpaces()
                    guard i < t.endIndex else { throw fail(Reader.unterminated) }
                    if t[i] != "," && t[i] != "}" { value = try flowScalarOrCollection(stopAtColon: false) }
                }
                if let k = first.string {
                    if seen.contains(k) { throw fail("duplicate key '\(k)'") }
                    seen.insert(k)
                }
                pairs.append(.init(key: first, value: value))
            } else {
                items.append(first)
            }
            skipSpaces()
            guard i < t.endIndex else { throw fail(Reader.unterminated) }
            if t[i] == "," {
                i += 1
            } else if t[i] != close {
                throw fail("expected ',' or '\(close)' in a flow collection")
            }
        }
        return YAMLSubset.Node(value: open == "[" ? .sequence(items) : .mapping(pairs), line: line + 1)
    }

    mutating func flowScalarOrCollection(stopAtColon: Bool) throws(YAMLSubset.SyntaxError) -> YAMLSubset.Node {
        switch t[i] {
        case "[", "{": return try flow()
        case "\"", "'": return YAMLSubset.Node(value: .scalar(try quoted(), quoted: true), line: line + 1)
        default:
            let start = i
            while i < t.endIndex {
                let c = t[i]
                if c == "," || c == "]" || c == "}" { break }
                if c == ":" && stopAtColon { break }
                i += 1
            }
            var s = t[start..<i]
            while s.last == " " { s = s.dropLast() }
            try parser.checkUnsupported(s)
            return YAMLSubset.Node(value: Reader.plain(String(s)), line: line + 1)
        }
    }
}
