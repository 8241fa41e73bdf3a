import ConfigSyntax
import Testing

@Suite("YAML subset (web config)")
struct YAMLSubsetTests {
    typealias Node = YAMLSubset.Node

    static func yaml(_ text: String) throws -> Node? { try YAMLSubset.compose(text) }

    static func map(_ n: Node?) -> [String: Node] {
        Dictionary((n?.mapping ?? []).map { ($0.key.string ?? "", $0.value) }, uniquingKeysWith: { a, _ in a })
    }

    static func error(_ text: String) -> YAMLSubset.SyntaxError? {
        thrown { () throws(YAMLSubset.SyntaxError) in _ = try YAMLSubset.compose(text) }
    }

    @Test("nested block mappings and sequences, with the line of every node")
    func blocks() throws {
        let root = try Self.yaml(
            """
            # a comment
            top:
              name: value with: colon # and a comment
              url: http://example.com/a#b
              list:
                - a
                - "b c"
              compact:
              - x
              - [y, z]
              - |
                block
              -
              deeper:
                deepest: 1
            last: ~
            """)
        let top = Self.map(Self.map(root)["top"])
        #expect(top["name"]?.string == "value with: colon")
        #expect(top["url"]?.string == "http://example.com/a#b")
        #expect(top["list"]?.sequence?.map(\.string) == ["a", "b c"])
        #expect(top["list"]?.sequence?[1].line == 7)
        let compact = try #require(top["compact"]?.sequence)
        #expect(compact.count == 4 && compact[0].string == "x" && compact[1].sequence?.map(\.string) == ["y", "z"])
        #expect(compact[2].string == "block\n" && compact[3].isNull && compact[3].line == 13)
        #expect(Self.map(top["deeper"])["deepest"]?.int == 1 && Self.map(top["deeper"])["deepest"]?.line == 15)
        #expect(Self.map(root)["last"]?.isNull == true)
        #expect(root?.mapping?.map { $0.key.string } == ["top", "last"], "order kept")
    }

    @Test("scalars: null, booleans and integers only when plain; quotes and escapes")
    func scalars() throws {
        let m = Self.map(
            try Self.yaml(
                #"""
                a: true
                b: "true"
                c: off
                d: 0x1f
                e: -12
                big: 9223372036854775808
                f: 1s
                g: "tab\there \"q\" \u00e9 \\"
                h: 'it''s # not a comment'
                i:
                j: null
                k: ""
                "l:m": key with a colon
                """#))
        #expect(m["a"]?.bool == true && m["b"]?.bool == nil && m["b"]?.string == "true")
        #expect(m["c"]?.bool == false)
        #expect(m["d"]?.int == nil && m["e"]?.int == -12 && m["f"]?.int == nil, "decimal integers only")
        #expect(m["big"]?.int == nil && m["big"]?.string == "9223372036854775808", "too large for an Int")
        #expect(m["g"]?.string == "tab\there \"q\" é \\")
        #expect(m["h"]?.string == "it's # not a comment")
        #expect(m["i"]?.isNull == true && m["j"]?.isNull == true)
        #expect(m["k"]?.string == "" && m["k"]?.isNull == false)
        #expect(m["l:m"]?.string == "key with a colon")
    }

    @Test("flow collections, nested and over several lines")
    func flow() throws {
        let m = Self.map(
            try Self.yaml(
                """
                a: [x, "y, z", 'w']
                b: {k: v, n: [1, 2], e: }
                c: [
                  one,   # first
                  two,
                ]
                d: []
                """))
        #expect(m["a"]?.sequence?.map(\.string) == ["x", "y, z", "w"])
        let b = Self.map(m["b"])
        #expect(b["k"]?.string == "v" && b["n"]?.sequence?.map(\.int) == [1, 2] && b["e"]?.isNull == true)
        #expect(m["c"]?.sequence?.map(\.string) == ["one", "two"])
        #expect(m["d"]?.sequence?.isEmpty == true)
    }

    @Test("literal block scalars, with chomping")
    func blockScalars() throws {
        let m = Self.map(
            try Self.yaml(
                """
                clip: |
                  line 1
                    indented # kept
                  line 3

                strip: |-
                  s
                keep: |+
                  k

                empty: |
                after: 1
                """))
        #expect(m["clip"]?.string == "line 1\n  indented # kept\nline 3\n")
        #expect(m["strip"]?.string == "s")
        #expect(m["keep"]?.string == "k\n\n")
        #expect(m["empty"]?.string == "")
        #expect(m["after"]?.int == 1)
        #expect(m["clip"]?.bool == nil, "a block scalar is a string")
    }

    @Test("flow collections over several lines give each item its own line")
    func flowLines() throws {
        let m = Self.map(try Self.yaml("a: 1\nlist: [one,\n  # a comment\n  two, {k: v,\n  w: x}]\nb: 2\n"))
        let list = try #require(m["list"]?.sequence)
        #expect(list.map(\.line) == [2, 4, 4] && Self.map(list[2])["w"]?.line == 5)
        #expect(m["b"]?.line == 6)
    }

    @Test("empty documents; a leading ---")
    func empty() throws {
        #expect(try Self.yaml("") == nil)
        #expect(try Self.yaml("# only\n\n  # comments\n") == nil)
        #expect(Self.map(try Self.yaml("---\na: 1\n"))["a"]?.int == 1)
        #expect(try Self.yaml("just text")?.string == "just text")
    }

    @Test(
        "errors name the line",
        arguments: [
            ("a:\n  b: [1, 2\n", 3, "not closed"),
            ("a: 1\na: 2\n", 2, "duplicate key 'a' (first on line 1)"),
            ("a: {x: 1, x: 2}\n", 1, "duplicate key 'x'"),
            ("a:\n\tb: 1\n", 2, "tab"),
            ("a:\n    b: 1\n  c: 2\n", 3, "indentation"),
            ("a: 1\n  b: 2\n", 2, "indentation"),
            ("a: &x 1\n", 1, "anchors"),
            ("a: *x\n", 1, "aliases"),
            ("a: !!str 1\n", 1, "tags"),
            ("a: 1\n---\nb: 2\n", 2, "more than one document"),
            ("a: \"open\n", 1, "not closed"),
            ("a: \"bad \\q\"\n", 1, "unknown escape"),
            ("- a\nb: 1\n", 2, "content after"),
            ("a: [1] x\n", 1, "after a flow collection"),
            ("? complex\n", 1, "complex keys"),
            // Found by ConfigParserSmokeTests: an unclosed quote ending in a backslash.
            ("- \t\n=[[\"=\\", 2, "content after"),
            ("a: [1, 'open\n  , 2]\n", 1, "not closed on its line"),
            ("a: [1, 2]]\n", 1, "after a flow collection"),
            ("a: {x: [1] y}\n", 1, "expected ',' or '}'"),
            ("a: \"\\u12\"\n", 1, "bad \\u escape"),
            // What the web config never needs is refused, by name.
            ("a: >\n  folded\n", 1, "folded block scalars"),
            ("a: |2\n  x\n", 1, "block scalar indicators"),
            ("- k: v\n", 1, "a mapping inside a sequence item"),
            ("- - x\n", 1, "a sequence inside a sequence item"),
            ("-\n  k: v\n", 2, "must start on its dash's line"),
            ("a: \"multi\n  line\"\n", 1, "not closed on its line"),
            ("%YAML 1.1\n", 1, "directives"),
        ])
    func errors(_ text: String, _ line: Int, _ message: String) {
        expectSyntaxError(Self.error(text), in: text, line: line, message: message)
    }
}

/// The bounds: nesting, size, and time in proportion to the text.
@Suite("YAML subset: bounds")
struct YAMLBoundsTests {
    static func error(_ text: String) -> ConfigSyntaxError? { YAMLSubsetTests.error(text) }

    @Test("32 levels of mappings, sequences and flow collections, not 33")
    func depth() throws {
        // Block mappings: level n is indented n - 1 spaces.
        func mappings(_ n: Int) -> String {
            (0..<n).map { String(repeating: " ", count: $0) + "k\($0):" }.joined(separator: "\n") + " 1\n"
        }
        #expect(try YAMLSubset.compose(mappings(32)) != nil)
        expectSyntaxError(Self.error(mappings(33)), in: "33 mappings", line: 33, message: "nested deeper than 32")
        // A mapping of 31, then a flow sequence: 32.
        let flow31 = mappings(31).dropLast(3) + " [x]\n"
        #expect(try YAMLSubset.compose(String(flow31)) != nil)
        let flow32 = mappings(31).dropLast(3) + " [[x]]\n"
        expectSyntaxError(Self.error(String(flow32)), in: "flow 33", line: 31, message: "nested deeper than 32")
        let flow = "a: " + String(repeating: "[", count: 31) + String(repeating: "]", count: 31) + "\n"
        #expect(try YAMLSubset.compose(flow) != nil)
        // A sequence of sequences at its key's indentation counts too.
        expectSyntaxError(
            Self.error("a:\n- " + String(repeating: "[", count: 32) + "\n"), in: "seq", line: 2,
            message: "nested deeper than 32")
    }

    @Test(
        "100 000 levels deep — flow, block, unclosed — is an error naming the line, not a crash",
        arguments: [
            ("a: " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "\n", 1),
            ("# x\na: " + String(repeating: "{a: ", count: 100_000) + "\n", 2),
            (String(repeating: "[", count: 100_000) + "\n", 1),
            ((0..<1000).map { String(repeating: " ", count: $0) + "k:" }.joined(separator: "\n") + " 1\n", 33),
        ])
    func deep(_ text: String, _ line: Int) {
        expectSyntaxError(Self.error(text), in: "deep", line: line, message: "nested deeper than 32")
    }

    @Test("a text over 1 MiB is refused on the line where it passes the limit")
    func size() {
        let line = "# " + String(repeating: "x", count: 1021) + "\n"  // 1 KiB
        expectSyntaxError(
            Self.error(String(repeating: line, count: 2048)), in: "2 MiB", line: 1025, message: "past 1 MiB")
        #expect(Self.error(String(repeating: line, count: 1024)) == nil, "exactly 1 MiB is read")
    }

    @Test("a line of almost 1 MiB, 60 000 short lines, a flow sequence over 100 000 lines: linear time")
    func long() throws {
        let clock = ContinuousClock()
        let value = String(repeating: "a", count: ConfigSyntaxLimits.maxBytes - 20)
        var root: YAMLSubset.Node?
        let one = try clock.measure { root = try YAMLSubset.compose("k: \(value)\n") }
        #expect(root?.mapping?.first?.value.string?.utf8.count == value.utf8.count)
        let quoted = try clock.measure { root = try YAMLSubset.compose("k: \"\(value)\"\n") }
        #expect(root?.mapping?.first?.value.string?.utf8.count == value.utf8.count)
        let keys = (0..<60_000).map { "k\($0): \($0)\n" }.joined()
        let many = try clock.measure { root = try YAMLSubset.compose(keys) }
        #expect(root?.mapping?.count == 60_000 && root?.mapping?.last?.value.line == 60_000)
        let items = "k: [\n" + String(repeating: "  x,\n", count: 100_000) + "]\n"
        let flow = try clock.measure { root = try YAMLSubset.compose(items) }
        #expect(root?.mapping?.first?.value.sequence?.count == 100_000)
        #expect(root?.mapping?.first?.value.sequence?.last?.line == 100_001)
        let list = "k:\n" + String(repeating: "  - x\n", count: 100_000)
        let seq = try clock.measure { root = try YAMLSubset.compose(list) }
        #expect(root?.mapping?.first?.value.sequence?.count == 100_000)
        // Quadratic behaviour (a multi-line flow collection re-read per line, as before) would
        // take minutes here; linear takes well under a second each.
        for d in [one, quoted, many, flow, seq] { #expect(d < .seconds(10), "\(d)") }
    }
}
