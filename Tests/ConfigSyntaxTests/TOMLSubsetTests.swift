import ConfigSyntax
import Testing

@Suite("TOML subset (iommud.toml)")
struct TOMLSubsetTests {
    static func error(_ text: String) -> TOMLSubset.SyntaxError? {
        thrown { () throws(TOMLSubset.SyntaxError) in _ = try TOMLSubset.parse(text) }
    }

    @Test("sections, keys and every kind of value, with the line of each key")
    func values() throws {
        let t = try TOMLSubset.parse(
            #"""
            # comment
            top = "level"   # trailing comment

            [sources]
            kmsg = "/dev/kmsg"
            literal = 'C:\literal'
            flag = true
            count = 1_000
            neg = -12
            list = [
              "a",  # first
              "b",
            ]
            empty = []
            nested = [[1, 2], []]
            esc = "tab\tquote\"\u00e9\U0001F600"

            [other-section]
            off = false
            """#)
        #expect(t["top"]?.string == "level" && t.line(of: "top") == 2)
        let s = try #require(t["sources"]?.table)
        #expect(t.line(of: "sources") == 4)
        #expect(s["kmsg"]?.string == "/dev/kmsg" && s.line(of: "kmsg") == 5)
        #expect(s["literal"]?.string == #"C:\literal"#)
        #expect(s["flag"]?.bool == true)
        #expect(s["count"]?.int == 1000 && s["neg"]?.int == -12)
        #expect(s["list"]?.array?.compactMap(\.string) == ["a", "b"] && s.line(of: "list") == 10)
        #expect(s["empty"]?.array?.isEmpty == true)
        #expect(s["nested"]?.array?.first?.array?.compactMap(\.int) == [1, 2])
        #expect(s["esc"]?.string == "tab\tquote\"é😀")
        #expect(t["other-section"]?.table?["off"]?.bool == false)
        #expect(t.keys == ["top", "sources", "other-section"], "order kept")
        #expect(s.keys == ["kmsg", "literal", "flag", "count", "neg", "list", "empty", "nested", "esc"])
    }

    @Test("CRLF line ends read as LF")
    func crlf() throws {
        let t = try TOMLSubset.parse("[http]\r\nlisten = [\"[::]:1\",\r\n]\r\nweb_config = \"\"\r\n")
        #expect(t["http"]?.table?["listen"]?.array?.first?.string == "[::]:1")
        #expect(t["http"]?.table?.line(of: "web_config") == 4)
    }

    @Test("integers at the edges of Int; beyond is an error naming the key")
    func integers() throws {
        let t = try TOMLSubset.parse("[s]\nmax = 9223372036854775807\nmin = -9223372036854775808\n")
        #expect(t["s"]?.table?["max"]?.int == Int.max && t["s"]?.table?["min"]?.int == Int.min)
        let e = Self.error("[storm]\nthreshold = 9223372036854775808\n")
        expectSyntaxError(e, in: "", line: 2, message: "'storm.threshold': 9223372036854775808 is too large a number")
    }

    @Test("quoted reads back as the same string")
    func quoted() throws {
        for s in ["", "plain", "quote \" and \\ backslash", "tab\tnew\nline\rcr", "\u{1}\u{7F}é😀"] {
            let t = try TOMLSubset.parse("k = \(TOMLSubset.quoted(s))\n")
            #expect(t["k"]?.string == s)
        }
    }

    @Test(
        "errors name the line",
        arguments: [
            ("[http\nlisten = 3\n", 1, "must end with ']'"),
            ("a = 1\na = 2\n", 2, "defined twice"),
            ("[t]\nx = 1\nx = 2\n", 3, "'t.x' is defined twice"),
            ("[t]\n[t]\n", 2, "defined twice (first on line 1)"),
            ("a = 1\n[a]\n", 2, "already a value"),
            ("x = [1, 2\n", 2, "not closed"),
            ("x = \"open\n", 1, "not closed"),
            ("x = yes\n", 1, "not a TOML value"),
            ("x = 1 2\n", 1, "unexpected text"),
            ("x =\n", 1, "without a value"),
            ("x = [1,,2]\n", 1, "expected a value"),
            ("just a key\n", 1, "expected '='"),
            ("x = \"\\q\"\n", 1, "unknown escape"),
            ("x = \"\\u12\"\n", 1, "bad \\u escape"),
            ("x = \"\\u+123\"\n", 1, "bad \\u escape"),
            ("x = \"\\uD800\"\n", 1, "bad \\u escape"),
            ("x = \"bell\u{7}\"\n", 1, "control character"),
            ("x = 012\n", 1, "not a TOML value"),
            // What iommud.toml never needs is refused, by name.
            ("[[a.b]]\n", 1, "nested tables"),
            ("[[arr]\n", 1, "must end with ']]'"),
            ("[arr]\n[[arr]]\n", 2, "[arr] is a table (line 1), not an array of tables"),
            ("[[arr]]\n[arr]\n", 2, "[[arr]] is an array of tables (line 1)"),
            ("arr = 1\n[[arr]]\n", 2, "already a value"),
            ("[[arr]]\nk = 1\nk = 2\n", 3, "'arr.k' is defined twice"),
            ("[a.b]\n", 1, "nested tables"),
            ("a.b = 1\n", 1, "dotted keys"),
            ("\"a\" = 1\n", 1, "quoted keys"),
            ("x = {a = 1}\n", 1, "inline tables"),
            ("x = \"\"\"\nmulti\"\"\"\n", 1, "multi-line strings"),
            ("x = '''\nmulti'''\n", 1, "multi-line strings"),
            ("x = 0.5\n", 1, "numbers are whole"),
            ("x = 1e3\n", 1, "numbers are whole"),
            ("x = inf\n", 1, "numbers are whole"),
            ("x = 0xff\n", 1, "in decimal"),
            ("x = 2026-11-26T07:44:19Z\n", 1, "date or a time"),
            ("x = 07:44:19\n", 1, "date or a time"),
        ])
    func errors(_ text: String, _ line: Int, _ message: String) {
        expectSyntaxError(Self.error(text), in: text, line: line, message: message)
    }

    @Test("arrays of tables: [[name]] tables in the order written, each with its header's line")
    func arrayOfTables() throws {
        let t = try TOMLSubset.parse(
            """
            [[rule]]
            name = "a"
            device = ["0000:00:14.0"]

            [http]
            listen = []

            [[rule]]   # a comment
            name = "b"
            [[ rule ]]
            """)
        #expect(t.keys == ["rule", "http"], "the array sits where its first header is")
        #expect(t.line(of: "rule") == 1)
        let rules = try #require(t["rule"]?.array)
        #expect(rules.count == 3)
        let first = try #require(rules[0].table)
        #expect(first.headerLine == 1 && first["name"]?.string == "a" && first.line(of: "device") == 3)
        #expect(rules[1].table?.headerLine == 8 && rules[1].table?["name"]?.string == "b")
        #expect(rules[2].table?.headerLine == 10 && rules[2].table?.keys == [])
        #expect(t["http"]?.table?.headerLine == 5)
    }
}

/// The bounds: nesting, size, and time in proportion to the text.
@Suite("TOML subset: bounds")
struct TOMLBoundsTests {
    @Test("arrays nest 32 deep, not 33; 100 000 deep is an error naming the line, not a crash")
    func depth() throws {
        let ok = "x = " + String(repeating: "[", count: 32) + String(repeating: "]", count: 32) + "\n"
        #expect(try TOMLSubset.parse(ok)["x"] != nil)
        let over = "x = " + String(repeating: "[", count: 33) + String(repeating: "]", count: 33) + "\n"
        expectSyntaxError(TOMLSubsetTests.error(over), in: "33 deep", line: 1, message: "nested deeper than 32")
        let deep = "# a comment\na = " + String(repeating: "[", count: 100_000) + "\n"
        expectSyntaxError(TOMLSubsetTests.error(deep), in: "100 000 deep", line: 2, message: "nested deeper than 32")
    }

    @Test("at most 1024 tables in one array of tables; the 1025th header is the error's line")
    func arrayTables() throws {
        let ok = String(repeating: "[[r]]\nk = 1\n", count: ConfigSyntaxLimits.maxArrayTables)
        #expect(try TOMLSubset.parse(ok)["r"]?.array?.count == 1024)
        let over = ok + "[[r]]\n"
        expectSyntaxError(TOMLSubsetTests.error(over), in: "1025 tables", line: 2049, message: "more than 1024 [[r]]")
    }

    @Test("a text over 1 MiB is refused on the line where it passes the limit")
    func size() {
        let line = "# " + String(repeating: "x", count: 1021) + "\n"  // 1 KiB
        let text = String(repeating: line, count: 2048)  // 2 MiB
        expectSyntaxError(TOMLSubsetTests.error(text), in: "2 MiB", line: 1025, message: "past 1 MiB")
        #expect(TOMLSubsetTests.error(String(repeating: line, count: 1024)) == nil, "exactly 1 MiB is read")
    }

    @Test("a line of almost 1 MiB, and 60 000 short lines, parse in linear time")
    func long() throws {
        let value = String(repeating: "a", count: ConfigSyntaxLimits.maxBytes - 20)
        let clock = ContinuousClock()
        var t = TOMLSubset.Table()
        let one = try clock.measure { t = try TOMLSubset.parse("[s]\nk = \"\(value)\"\n") }
        #expect(t["s"]?.table?["k"]?.string?.utf8.count == value.utf8.count)
        let keys = (0..<60_000).map { "k\($0) = \($0)\n" }.joined()
        let many = try clock.measure { t = try TOMLSubset.parse("[s]\n" + keys) }
        #expect(t["s"]?.table?.keys.count == 60_000 && t["s"]?.table?.line(of: "k59999") == 60_001)
        let items = "x = [" + String(repeating: "1,", count: 300_000) + "]\n"
        let array = try clock.measure { t = try TOMLSubset.parse(items) }
        #expect(t["x"]?.array?.count == 300_000)
        // Quadratic behaviour would take minutes here; linear takes well under a second each.
        for d in [one, many, array] { #expect(d < .seconds(10), "\(d)") }
    }
}

/// Random text over the characters both parsers branch on: whatever comes, an answer or a
/// syntax error, never a crash (a config error must name file and line, not kill the daemon).
@Suite("config parsers on random text")
struct ConfigParserSmokeTests {
    static let alphabet: [String] = [
        "a", "b", "-", ":", " ", "  ", "\n", "[", "]", "{", "}", "\"", "'", "#", "|", ">", "\\", "=", ".", ",",
        "1", "0x", "true", "\t", "\r\n", "- ", ": ", "\"\"\"", "'''", "u00", "&", "*", "!", "?", "~", "---",
    ]

    static func documents(seed: UInt64, count: Int) -> [String] {
        var state = seed
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33)
        }
        return (0..<count).map { _ in
            (0..<(next() % 60)).map { _ in alphabet[next() % alphabet.count] }.joined()
        }
    }

    @Test("YAML and TOML: 5 000 random documents each, no crash")
    func noCrash() {
        var answered = 0
        for text in Self.documents(seed: 42, count: 5000) {
            if (try? YAMLSubset.compose(text)) != nil { answered += 1 }
            if (try? TOMLSubset.parse(text)) != nil { answered += 1 }
        }
        #expect(answered > 0)
    }
}
