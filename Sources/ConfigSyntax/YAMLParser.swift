/// The reader behind `YAMLSubset.compose`: line-oriented recursive descent over the block
/// structure, on the UTF-8 bytes. Each line is looked at a bounded number of times, a flow
/// collection over several lines is gathered once and read once (`YAMLFlow`), and recursion
/// stops at `ConfigSyntaxLimits.maxDepth`.
struct YAMLParser {
    typealias Node = YAMLSubset.Node
    typealias SyntaxError = ConfigSyntaxError

    let b: [UInt8]
    /// Each line's bytes, without its line end (a CR before the LF is dropped too).
    let lines: [Range<Int>]
    /// The line being read (0-based).
    var row = 0

    /// A line's content: where it starts (its indentation) and its bytes, without the comment
    /// and trailing blanks.
    struct Content {
        var indent: Int
        var range: Range<Int>
    }

    init(_ b: [UInt8]) {
        self.b = b
        var lines: [Range<Int>] = []
        var start = 0
        func add(_ end: Int) {
            lines.append(start..<(end > start && b[end - 1] == carriageReturn ? end - 1 : end))
        }
        for k in 0..<b.count where b[k] == newline {
            add(k)
            start = k + 1
        }
        add(b.count)
        self.lines = lines
    }

    func fail(_ message: String, row: Int? = nil) -> SyntaxError {
        SyntaxError(line: min(row ?? self.row, lines.count - 1) + 1, message: message)
    }

    func text(_ r: Range<Int>) -> String { String(decoding: b[r], as: UTF8.self) }

    func equals(_ r: Range<Int>, _ s: String) -> Bool { b[r].elementsEqual(s.utf8) }

    /// `-` alone or followed by a space: a block sequence item.
    func isDash(_ r: Range<Int>) -> Bool {
        !r.isEmpty && b[r.lowerBound] == UInt8(ascii: "-") && (r.count == 1 || b[r.lowerBound + 1] == space)
    }

    // MARK: - Lines

    /// Line `r`'s content; nil for a blank or comment-only line.
    func content(_ r: Int) throws(SyntaxError) -> Content? {
        let line = lines[r]
        var i = line.lowerBound
        while i < line.upperBound && b[i] == space { i += 1 }
        if i < line.upperBound && b[i] == tab {
            throw fail("a tab in the indentation (YAML indents with spaces)", row: r)
        }
        let start = i
        var end = i
        var open: UInt8?  // the quote a quoted scalar is open with
        var k = i
        while k < line.upperBound {
            let c = b[k]
            if let q = open {
                if c == q {
                    if q == apostrophe && k + 1 < line.upperBound && b[k + 1] == apostrophe {
                        k += 1
                    } else {
                        open = nil
                    }
                } else if c == backslash && q == quote {
                    k += 1
                }
            } else if c == hash && (k == start || b[k - 1] == space || b[k - 1] == tab) {
                break
            } else if (c == quote || c == apostrophe) && (k == start || Self.opensQuote(after: b[k - 1])) {
                open = c
            }
            k += 1
            if open == nil { end = k }
        }
        if open != nil { end = min(k, line.upperBound) }  // an unclosed quote runs to the line's end
        while end > start && (b[end - 1] == space || b[end - 1] == tab) { end -= 1 }
        return end > start ? Content(indent: start - line.lowerBound, range: start..<end) : nil
    }

    /// A quote after one of these starts a quoted scalar; elsewhere it is part of a plain one.
    static func opensQuote(after c: UInt8) -> Bool {
        c == space || c == tab || c == UInt8(ascii: "[") || c == UInt8(ascii: "{") || c == UInt8(ascii: ",")
            || c == UInt8(ascii: ":") || c == UInt8(ascii: "-")
    }

    /// Moves to the next line with content; false at the end of the text.
    mutating func skipBlank() throws(SyntaxError) -> Bool {
        while row < lines.count {
            if try content(row) != nil { return true }
            row += 1
        }
        return false
    }

    // MARK: - Block structure

    mutating func document() throws(SyntaxError) -> Node? {
        guard try skipBlank() else { return nil }
        if let c = try content(row), equals(c.range, "---") || b[c.range].starts(with: "--- ".utf8) {
            if c.range.count > 3 { throw fail("content after '---' is not supported") }
            row += 1
            guard try skipBlank() else { return nil }
        }
        let root = try block(try content(row)!, depth: 1)
        if try skipBlank() {
            let c = try content(row)!
            if equals(c.range, "---") || equals(c.range, "...") { throw fail("more than one document in the file") }
            throw fail("unexpected indentation or content after the document's end")
        }
        return root
    }

    /// The node whose first line is the current one, `c`.
    mutating func block(_ c: Content, depth: Int) throws(SyntaxError) -> Node {
        guard depth <= ConfigSyntaxLimits.maxDepth else {
            throw ConfigSyntaxLimits.depthError(line: row + 1, what: "mappings, sequences and flow collections")
        }
        if isDash(c.range) { return try sequence(indent: c.indent, depth: depth) }
        if try keySplit(c.range) != nil { return try mapping(indent: c.indent, depth: depth) }
        // A lone scalar or flow collection.
        let line = row
        let node = try inlineValue(c.range, line: line, parentIndent: c.indent - 1, depth: depth)
        row = max(row, line + 1)
        return node
    }

    mutating func sequence(indent: Int, depth: Int) throws(SyntaxError) -> Node {
        var items: [Node] = []
        let first = row
        while try skipBlank() {
            let c = try content(row)!
            guard c.indent == indent, isDash(c.range) else {
                if c.indent > indent { throw fail("unexpected indentation in a sequence") }
                break
            }
            let line = row
            var s = c.range.lowerBound + 1
            while s < c.range.upperBound && b[s] == space { s += 1 }
            let rest = s..<c.range.upperBound
            if rest.isEmpty {
                // A null item, unless something more indented follows.
                row += 1
                if try skipBlank(), let n = try content(row), n.indent > indent {
                    throw fail("a sequence item must start on its dash's line")
                }
                items.append(Node(value: .null, line: line + 1))
                continue
            }
            if isDash(rest) { throw fail("a sequence inside a sequence item is not supported") }
            if try keySplit(rest) != nil {
                throw fail("a mapping inside a sequence item is not supported (the web config's lists hold strings)")
            }
            items.append(try inlineValue(rest, line: line, parentIndent: indent, depth: depth + 1))
            row = max(row, line + 1)
        }
        return Node(value: .sequence(items), line: first + 1)
    }

    mutating func mapping(indent: Int, depth: Int) throws(SyntaxError) -> Node {
        var pairs: [Node.Pair] = []
        var seen: [String: Int] = [:]
        let first = row
        while try skipBlank() {
            let c = try content(row)!
            if c.indent != indent {
                if c.indent > indent { throw fail("unexpected indentation in a mapping") }
                break
            }
            if equals(c.range, "---") || equals(c.range, "...") { break }  // the document's end
            guard let (key, rest) = try keySplit(c.range) else {
                if isDash(c.range) { throw fail("a sequence item where a key was expected") }
                throw fail("expected 'key: value'")
            }
            let line = row
            if let k = key.string {
                if let earlier = seen[k] {
                    throw fail("duplicate key '\(ConfigSyntaxError.excerpt(k))' (first on line \(earlier))")
                }
                seen[k] = line + 1
            }
            let value: Node
            if rest.isEmpty {
                row += 1
                if try skipBlank(), let n = try content(row),
                    n.indent > indent || (n.indent == indent && isDash(n.range))
                {
                    value = try block(n, depth: depth + 1)
                } else {
                    value = Node(value: .null, line: line + 1)
                }
            } else {
                value = try inlineValue(rest, line: line, parentIndent: indent, depth: depth + 1)
                row = max(row, line + 1)
            }
            pairs.append(Node.Pair(key: key, value: value))
        }
        return Node(value: .mapping(pairs), line: first + 1)
    }

    /// `key: rest` → the key and what follows the colon (trimmed); nil when the text is not a
    /// mapping entry.
    func keySplit(_ t: Range<Int>) throws(SyntaxError) -> (Node, Range<Int>)? {
        guard let f = t.first.map({ b[$0] }) else { return nil }
        if f == UInt8(ascii: "?") && (t.count == 1 || b[t.lowerBound + 1] == space) {
            throw fail("complex keys ('? ') are not supported")
        }
        if f == UInt8(ascii: "[") || f == UInt8(ascii: "{") { return nil }
        var i = t.lowerBound
        let key: Node
        if f == quote || f == apostrophe {
            var r = YAMLFlow(b, t, rows: [(t.lowerBound, row)])
            guard let s = try r.quoted() else { return nil }
            i = r.i
            while i < t.upperBound && b[i] == space { i += 1 }
            guard i < t.upperBound, b[i] == UInt8(ascii: ":") else { return nil }
            key = Node(value: .scalar(s, quoted: true), line: row + 1)
        } else {
            while i < t.upperBound {
                if b[i] == UInt8(ascii: ":") && (i + 1 == t.upperBound || b[i + 1] == space) { break }
                i += 1
            }
            guard i < t.upperBound else { return nil }
            var end = i
            while end > t.lowerBound && b[end - 1] == space { end -= 1 }
            let k = t.lowerBound..<end
            try YAMLFlow.checkUnsupported(b[k], line: row + 1)
            key = Node(value: k.isEmpty ? .null : .scalar(text(k), quoted: false), line: row + 1)
        }
        var rest = (i + 1)..<t.upperBound
        while let x = rest.first, b[x] == space { rest = (x + 1)..<rest.upperBound }
        return (key, rest)
    }

    // MARK: - Values on a line

    /// A value that starts on line `line` after a key or a dash: a block scalar, a flow
    /// collection (which may run over the next lines), a quoted or a plain scalar.
    mutating func inlineValue(_ t: Range<Int>, line: Int, parentIndent: Int, depth: Int) throws(SyntaxError) -> Node {
        switch b[t.lowerBound] {
        case UInt8(ascii: "|"):
            return try blockScalar(t, line: line, parentIndent: parentIndent)
        case UInt8(ascii: ">"):
            throw fail("folded block scalars ('>') are not supported: use '|'", row: line)
        case UInt8(ascii: "["), UInt8(ascii: "{"):
            return try flowCollection(t, line: line, depth: depth)
        case quote, apostrophe:
            var r = YAMLFlow(b, t, rows: [(t.lowerBound, line)])
            guard let s = try r.quoted() else {
                throw fail(
                    "a quoted string is not closed on its line (quoted strings over several lines are not supported)",
                    row: line)
            }
            r.skipSpaces()
            if r.i < t.upperBound { throw fail("unexpected text after a quoted string", row: line) }
            return Node(value: .scalar(s, quoted: true), line: line + 1)
        default:
            try YAMLFlow.checkUnsupported(b[t], line: line + 1)
            return Node(value: YAMLFlow.plain(text(t)), line: line + 1)
        }
    }

    /// `[…]` or `{…}` from `t` on, over as many lines as it takes to close: gathered (comments
    /// left out, line ends made spaces) in one pass, then read once.
    mutating func flowCollection(_ t: Range<Int>, line: Int, depth: Int) throws(SyntaxError) -> Node {
        var joined: [UInt8] = []
        var rows: [(start: Int, row: Int)] = []
        var scan = BracketScan(depth: depth - 1)
        var r = line
        var part = t
        var closedAt: Int?
        while true {
            rows.append((joined.count, r))
            let base = joined.count
            joined.append(contentsOf: b[part])
            if let k = scan.feed(joined, from: base) {
                closedAt = k
                break
            }
            if scan.tooDeep {
                throw ConfigSyntaxLimits.depthError(line: r + 1, what: "mappings, sequences and flow collections")
            }
            if scan.openQuote {
                throw fail(
                    "a quoted string is not closed on its line (quoted strings over several lines are not supported)",
                    row: r)
            }
            // The next line with content.
            r += 1
            while r < lines.count, try content(r) == nil { r += 1 }
            guard r < lines.count else { throw fail("a flow collection is not closed", row: lines.count - 1) }
            part = try content(r)!.range
            joined.append(space)
        }
        row = r + 1
        let end = closedAt!
        for c in joined[end...] where c != space && c != tab {
            throw fail("unexpected text after a flow collection", row: r)
        }
        var reader = YAMLFlow(joined, 0..<end, rows: rows)
        let node = try reader.flow(depth: depth)
        reader.skipSpaces()
        if reader.i < end { throw reader.fail("unexpected text after a flow collection") }
        return node
    }

    /// `|`, with an optional chomping indicator: the more-indented lines below.
    mutating func blockScalar(_ t: Range<Int>, line: Int, parentIndent: Int) throws(SyntaxError) -> Node {
        var chomp: UInt8 = space
        for c in b[t].dropFirst() {
            guard (c == UInt8(ascii: "-") || c == UInt8(ascii: "+")) && chomp == space else {
                throw fail("block scalar indicators other than one - or + are not supported", row: line)
            }
            chomp = c
        }
        var body: [Range<Int>] = []
        var contentIndent: Int?
        var r = line + 1
        while r < lines.count {
            let l = lines[r]
            var k = l.lowerBound
            while k < l.upperBound && b[k] == space { k += 1 }
            let indent = k - l.lowerBound
            if k == l.upperBound {  // blank
                body.append(k..<k)
                r += 1
                continue
            }
            if indent <= parentIndent { break }
            if contentIndent == nil { contentIndent = indent }
            if indent < contentIndent! { break }
            body.append((l.lowerBound + contentIndent!)..<l.upperBound)
            r += 1
        }
        row = r
        // Trailing blank lines belong to the chomping, not the content.
        var trailing = 0
        while let last = body.last, last.isEmpty {
            body.removeLast()
            trailing += 1
        }
        var out: [UInt8] = []
        for (n, l) in body.enumerated() {
            if n > 0 { out.append(newline) }
            out.append(contentsOf: b[l])
        }
        switch chomp {
        case UInt8(ascii: "-"): break
        case UInt8(ascii: "+"): out += repeatElement(newline, count: body.isEmpty ? trailing : trailing + 1)
        default: if !body.isEmpty { out.append(newline) }
        }
        return Node(value: .scalar(String(decoding: out, as: UTF8.self), quoted: true), line: line + 1)
    }
}
