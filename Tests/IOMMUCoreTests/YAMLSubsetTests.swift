import IOMMUCore
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
              - y
              items:
                - key: 1
                  other: two
                -
                  nested: [3]
            last: ~
            """)
        let top = Self.map(Self.map(root)["top"])
        #expect(top["name"]?.string == "value with: colon")
        #expect(top["url"]?.string == "http://example.com/a#b")
        #expect(top["list"]?.sequence?.map(\.string) == ["a", "b c"])
        #expect(top["list"]?.sequence?[1].line == 7)
        #expect(top["compact"]?.sequence?.map(\.string) == ["x", "y"])
        let items = try #require(top["items"]?.sequence)
        #expect(Self.map(items[0])["key"]?.int == 1 && Self.map(items[0])["other"]?.string == "two")
        #expect(Self.map(items[0])["other"]?.line == 13)
        #expect(Self.map(items[1])["nested"]?.sequence?.first?.int == 3)
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
        #expect(m["d"]?.int == 31 && m["e"]?.int == -12 && m["f"]?.int == nil)
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

    @Test("block scalars: literal and folded, with chomping")
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

                folded: >
                  a
                  b

                  c
                after: 1
                """))
        #expect(m["clip"]?.string == "line 1\n  indented # kept\nline 3\n")
        #expect(m["strip"]?.string == "s")
        #expect(m["keep"]?.string == "k\n\n")
        #expect(m["folded"]?.string == "a b\nc\n")
        #expect(m["after"]?.int == 1)
        #expect(m["clip"]?.bool == nil, "a block scalar is a string")
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
        ])
    func errors(_ text: String, _ line: Int, _ message: String) {
        expectSyntaxError(Self.error(text), in: text, line: line, message: message)
    }
}
