/// Characters of one line, or of a flow collection gathered from several: quoted scalars and
/// flow collections, read left to right with the line of every node.
struct YAMLFlow {
    typealias Node = YAMLSubset.Node
    typealias SyntaxError = ConfigSyntaxError

    let t: [UInt8]
    var i: Int
    let end: Int
    /// Where each line's part starts in `t`, with its 0-based line.
    let rows: [(start: Int, row: Int)]

    init(_ t: [UInt8], _ range: Range<Int>, rows: [(start: Int, row: Int)]) {
        self.t = t
        self.i = range.lowerBound
        self.end = range.upperBound
        self.rows = rows
    }

    /// The 1-based line of the character at `k`.
    func line(at k: Int) -> Int {
        var lo = 0
        var hi = rows.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if rows[mid].start <= k { lo = mid } else { hi = mid - 1 }
        }
        return rows[lo].row + 1
    }

    func fail(_ m: String) -> SyntaxError { SyntaxError(line: line(at: min(i, end - 1)), message: m) }

    mutating func skipSpaces() {
        while i < end && (t[i] == space || t[i] == tab) { i += 1 }
    }

    /// A plain scalar's value: null, or the text (booleans and numbers stay text until asked).
    static func plain(_ s: String) -> Node.Value {
        switch s {
        case "", "~", "null", "Null", "NULL": return .null
        default: return .scalar(s, quoted: false)
        }
    }

    static func checkUnsupported(_ s: ArraySlice<UInt8>, line: Int) throws(SyntaxError) {
        guard let f = s.first else { return }
        let what: String
        switch f {
        case UInt8(ascii: "&"): what = "anchors ('&') are not supported"
        case UInt8(ascii: "*"): what = "aliases ('*') are not supported"
        case UInt8(ascii: "!"): what = "tags ('!') are not supported"
        case UInt8(ascii: "%"): what = "directives ('%') are not supported"
        case UInt8(ascii: "@"), UInt8(ascii: "`"):
            what = "a plain scalar can not start with '\(Character(Unicode.Scalar(f)))'"
        default: return
        }
        throw SyntaxError(line: line, message: what)
    }

    /// The quoted scalar at `i`; nil when it is not closed before `end`.
    mutating func quoted() throws(SyntaxError) -> String? {
        let q = t[i]
        i += 1
        var out: [UInt8] = []
        while i < end {
            let c = t[i]
            i += 1
            if c == q {
                if q == apostrophe && i < end && t[i] == apostrophe {
                    out.append(apostrophe)
                    i += 1
                    continue
                }
                return String(decoding: out, as: UTF8.self)
            }
            if c == backslash && q == quote {
                guard i < end else { return nil }
                try escape(into: &out)
                continue
            }
            out.append(c)
        }
        return nil
    }

    /// The one-character escapes of a double-quoted scalar.
    static let escapes: [UInt8: UInt8] = [
        UInt8(ascii: "0"): 0, UInt8(ascii: "a"): 7, UInt8(ascii: "b"): 8, UInt8(ascii: "t"): 9, tab: 9,
        UInt8(ascii: "n"): 10, UInt8(ascii: "v"): 11, UInt8(ascii: "f"): 12, UInt8(ascii: "r"): 13,
        UInt8(ascii: "e"): 27, space: space, quote: quote, UInt8(ascii: "/"): UInt8(ascii: "/"),
        backslash: backslash,
    ]

    /// After a backslash in a double-quoted scalar.
    mutating func escape(into out: inout [UInt8]) throws(SyntaxError) {
        let e = t[i]
        i += 1
        if let s = Self.escapes[e] {
            out.append(s)
            return
        }
        switch e {
        case UInt8(ascii: "N"): out += Array("\u{85}".utf8)
        case UInt8(ascii: "_"): out += Array("\u{A0}".utf8)
        case UInt8(ascii: "x"), UInt8(ascii: "u"), UInt8(ascii: "U"):
            let n = e == UInt8(ascii: "x") ? 2 : e == UInt8(ascii: "u") ? 4 : 8
            guard i + n <= end, let v = hexValue(t[i..<(i + n)]), let scalar = Unicode.Scalar(v) else {
                throw fail("a bad \\\(Character(Unicode.Scalar(e))) escape in a double-quoted string")
            }
            out += Array(String(scalar).utf8)
            i += n
        default:
            let shown = e >= 0x20 && e < 0x7F ? String(Character(Unicode.Scalar(e))) : "…"
            throw fail("unknown escape '\\\(shown)' in a double-quoted string")
        }
    }

    /// `[…]` or `{…}` at `i`; `depth` is its own level.
    mutating func flow(depth: Int) throws(SyntaxError) -> Node {
        let startLine = line(at: i)
        guard depth <= ConfigSyntaxLimits.maxDepth else {
            throw ConfigSyntaxLimits.depthError(line: startLine, what: "mappings, sequences and flow collections")
        }
        let open = t[i]
        let close = open == UInt8(ascii: "[") ? UInt8(ascii: "]") : UInt8(ascii: "}")
        let closeText = open == UInt8(ascii: "[") ? "]" : "}"
        i += 1
        var items: [Node] = []
        var pairs: [Node.Pair] = []
        var seen: Set<String> = []
        while true {
            skipSpaces()
            guard i < end else { throw fail("a flow collection is not closed") }
            if t[i] == close {
                i += 1
                break
            }
            let first = try item(stopAtColon: open == UInt8(ascii: "{"), depth: depth)
            skipSpaces()
            if open == UInt8(ascii: "{") {
                guard i < end else { throw fail("a flow collection is not closed") }
                var value = Node(value: .null, line: line(at: i))
                if t[i] == UInt8(ascii: ":") {
                    i += 1
                    skipSpaces()
                    guard i < end else { throw fail("a flow collection is not closed") }
                    if t[i] != UInt8(ascii: ",") && t[i] != close { value = try item(stopAtColon: false, depth: depth) }
                }
                if let k = first.string {
                    if seen.contains(k) { throw fail("duplicate key '\(ConfigSyntaxError.excerpt(k))'") }
                    seen.insert(k)
                }
                pairs.append(Node.Pair(key: first, value: value))
            } else {
                items.append(first)
            }
            skipSpaces()
            guard i < end else { throw fail("a flow collection is not closed") }
            if t[i] == UInt8(ascii: ",") {
                i += 1
            } else if t[i] != close {
                throw fail("expected ',' or '\(closeText)' in a flow collection")
            }
        }
        return Node(value: open == UInt8(ascii: "[") ? .sequence(items) : .mapping(pairs), line: startLine)
    }

    /// An item of a flow collection of level `depth`.
    mutating func item(stopAtColon: Bool, depth: Int) throws(SyntaxError) -> Node {
        let at = line(at: i)
        switch t[i] {
        case UInt8(ascii: "["), UInt8(ascii: "{"): return try flow(depth: depth + 1)
        case quote, apostrophe:
            guard let s = try quoted() else { throw fail("a quoted string is not closed on its line") }
            return Node(value: .scalar(s, quoted: true), line: at)
        default:
            let start = i
            while i < end {
                let c = t[i]
                if c == UInt8(ascii: ",") || c == UInt8(ascii: "]") || c == UInt8(ascii: "}") { break }
                if c == UInt8(ascii: ":") && stopAtColon { break }
                i += 1
            }
            var e = i
            while e > start && (t[e - 1] == space || t[e - 1] == tab) { e -= 1 }
            try Self.checkUnsupported(t[start..<e], line: at)
            return Node(value: Self.plain(String(decoding: t[start..<e], as: UTF8.self)), line: at)
        }
    }
}

/// Brackets and quotes of a flow collection fed line by line: where it closes, or that it
/// nests too deep (said before the rest of the file is gathered).
struct BracketScan {
    /// The nesting level, counting the levels the collection sits in.
    var depth: Int
    var open: UInt8?
    var openQuote: Bool { open != nil }
    var tooDeep: Bool { depth > ConfigSyntaxLimits.maxDepth }

    /// The level outside the collection: back there, it is closed.
    let base: Int

    init(depth: Int) {
        self.depth = depth
        self.base = depth
    }

    /// The index just past the bracket that closes the collection, once it is in `t[from...]`.
    mutating func feed(_ t: [UInt8], from: Int) -> Int? {
        open = nil  // quoted scalars end on their line
        var k = from
        while k < t.count {
            let c = t[k]
            if let q = open {
                if c == q {
                    if q == apostrophe && k + 1 < t.count && t[k + 1] == apostrophe {
                        k += 1
                    } else {
                        open = nil
                    }
                } else if c == backslash && q == quote {
                    k += 1
                }
            } else if c == UInt8(ascii: "[") || c == UInt8(ascii: "{") {
                depth += 1
                if tooDeep { return nil }
            } else if c == UInt8(ascii: "]") || c == UInt8(ascii: "}") {
                depth -= 1
                if depth <= base { return k + 1 }
            } else if (c == quote || c == apostrophe) && (k == 0 || YAMLParser.opensQuote(after: t[k - 1])) {
                open = c
            }
            k += 1
        }
        return nil
    }
}
