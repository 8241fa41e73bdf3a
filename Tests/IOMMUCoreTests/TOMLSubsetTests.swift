import IOMMUCore
import Testing

@Suite("TOML subset (iommud.toml)")
struct TOMLSubsetTests {
    static func error(_ text: String) -> TOMLSubset.SyntaxError? {
        thrown { () throws(TOMLSubset.SyntaxError) in _ = try TOMLSubset.parse(text) }
    }

    @Test("tables, keys and every kind of value, with the line of each key")
    func values() throws {
        let t = try TOMLSubset.parse(
            #"""
            # comment
            top = "level"   # trailing comment

            [sources]
            kmsg = "/dev/kmsg"
            "quoted key" = 'C:\literal'
            dotted.inner = true
            count = 1_000
            hex = 0xff
            neg = -12
            ratio = 0.5
            when = 2026-11-26T07:44:19Z
            list = [
              "a",  # first
              "b",
            ]
            empty = []
            inline = { a = 1, b.c = "x" }
            esc = "tab\tquote\"\u00e9"
            multi = """
            one \
              two
            three"""
            lit = '''
            raw \n'''

            [a.b]
            deep = false
            """#)
        #expect(t["top"]?.string == "level" && t.line(of: "top") == 2)
        let s = try #require(t["sources"]?.table)
        #expect(t.line(of: "sources") == 4)
        #expect(s["kmsg"]?.string == "/dev/kmsg" && s.line(of: "kmsg") == 5)
        #expect(s["quoted key"]?.string == #"C:\literal"#)
        #expect(s["dotted"]?.table?["inner"]?.bool == true && s.line(of: "dotted") == 7)
        #expect(s["count"]?.int == 1000 && s["hex"]?.int == 255 && s["neg"]?.int == -12)
        #expect(s["ratio"] == .float(0.5) && s["ratio"]?.int == nil)
        #expect(s["when"] == .datetime("2026-11-26T07:44:19Z"))
        #expect(s["list"]?.array?.compactMap(\.string) == ["a", "b"] && s.line(of: "list") == 13)
        #expect(s["empty"]?.array?.isEmpty == true)
        #expect(s["inline"]?.table?["a"]?.int == 1 && s["inline"]?.table?["b"]?.table?["c"]?.string == "x")
        #expect(s["esc"]?.string == "tab\tquote\"é")
        #expect(s["multi"]?.string == "one two\nthree")
        #expect(s["lit"]?.string == #"raw \n"#)
        #expect(t["a"]?.table?["b"]?.table?["deep"]?.bool == false)
        #expect(t.keys == ["top", "sources", "a"], "order kept")
    }

    @Test("CRLF line ends read as LF")
    func crlf() throws {
        let t = try TOMLSubset.parse("[http]\r\nlisten = [\"[::]:1\"]\r\nweb_config = \"\"\r\n")
        #expect(t["http"]?.table?["listen"]?.array?.first?.string == "[::]:1")
        #expect(t["http"]?.table?.line(of: "web_config") == 3)
    }

    @Test(
        "errors name the line",
        arguments: [
            ("[http\nlisten = 3\n", 1, "must end with ']'"),
            ("a = 1\na = 2\n", 2, "defined twice"),
            ("[t]\n[t]\n", 2, "defined twice"),
            ("a = 1\n[a]\n", 2, "already a value"),
            ("a = 1\na.b = 2\n", 2, "is a value"),
            ("x = [1, 2\n", 2, "not closed"),
            ("x = \"open\n", 1, "not closed"),
            ("x = yes\n", 1, "not a TOML value"),
            ("x = 1 2\n", 1, "unexpected text"),
            ("x =\n", 1, "without a value"),
            ("just a key\n", 1, "expected '='"),
            ("[[arr]]\n", 1, "not supported"),
            ("x = \"\\q\"\n", 1, "unknown escape"),
            ("x = 012\n", 1, "not a TOML value"),
            ("x = {a = 1,\n b = 2}\n", 1, "on one line"),
        ])
    func errors(_ text: String, _ line: Int, _ message: String) {
        expectSyntaxError(Self.error(text), in: text, line: line, message: message)
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
