import ConfigSyntax
import Testing

@Suite("durations (iommud.toml, the web config, iommud log)")
struct DurationSyntaxTests {
    static func us(_ text: String) -> Int64? { try? DurationSyntax.microseconds(text).get() }

    @Test(
        "the forms Prometheus and the exporter-toolkit write",
        arguments: [
            ("5s", 5_000_000), ("250ms", 250_000), ("1h30m", 5_400_000_000), ("2d", 172_800_000_000),
            ("1w", 604_800_000_000), ("1m30s", 90_000_000), ("1h1ms", 3_600_001_000), ("7us", 7), ("0", 0),
            ("0s", 0), ("1d2h3m4s5ms6us", 93_784_005_006),
        ] as [(String, Int64)])
    func read(_ text: String, _ value: Int64) {
        #expect(Self.us(text) == value)
    }

    @Test(
        "everything else is refused with a reason",
        arguments: [
            ("", "empty"), ("5", "needs a unit"), ("s", "start with a number"), ("-5s", "start with a number"),
            ("1.5h", "not a unit"), ("5x", "'x' is not a unit"), ("5 s", "' s' is not a unit"),
            ("30m1h", "largest to the smallest"), ("1s1s", "largest to the smallest"), ("5S", "not a unit"),
            ("9223372036854775807us1", "needs a unit"),
        ])
    func refused(_ text: String, _ reason: String) {
        guard case .failure(let p) = DurationSyntax.microseconds(text) else {
            Issue.record("accepted \(text)")
            return
        }
        #expect(p.message.contains(reason), "\(p)")
        #expect(!p.tooLarge)
    }

    @Test("what does not fit in Int64 µs is refused as too large, never wrapped")
    func overflow() {
        #expect(Self.us("9223372036854775807us") == .max)
        for text in [
            "9223372036854775808us", "106751992d", "250000000d", "15250285w", "99999999999999999999999999s",
            "15250284w6d23h59m59s999ms999us",
        ] {
            guard case .failure(let p) = DurationSyntax.microseconds(text) else {
                Issue.record("accepted \(text)")
                continue
            }
            #expect(p.tooLarge, "\(text): \(p)")
        }
        #expect(Self.us("15250284w3d") != nil)
    }

    @Test("text(microseconds:) is the shortest form, and reads back")
    func text() {
        #expect(DurationSyntax.text(microseconds: 0) == "0s")
        #expect(DurationSyntax.text(microseconds: 5_400_000_000) == "1h30m")
        #expect(DurationSyntax.text(microseconds: 250_000) == "250ms")
        #expect(DurationSyntax.text(microseconds: 604_800_000_000) == "7d")
        #expect(DurationSyntax.text(microseconds: -1_000_000) == "-1s")
        for v: Int64 in [1, 999, 1000, 86_400_000_000, 93_784_005_006, .max] {
            #expect(Self.us(DurationSyntax.text(microseconds: v)) == v)
        }
        #expect(DurationSyntax.text(microseconds: .max) == "106751991d4h54s775ms807us")
        #expect(DurationSyntax.text(microseconds: .min) == "-106751991d4h54s775ms808us")
    }
}

@Suite("iommud log times")
struct TimeSpecTests {
    static let now: Int64 = 1_795_679_059_000_000

    static func problem(_ text: String) -> String? {
        if case .failure(let p) = TimeSpec.read(text, nowUsec: now) { return p.message }
        return nil
    }

    @Test("ISO 8601 with a zone, @seconds")
    func absolute() {
        let z = TimeSpec.parse("2026-11-26T05:53:14Z", nowUsec: Self.now)
        #expect(z == 1_795_672_394_000_000)
        #expect(TimeSpec.parse("2026-11-26T06:53:14+01:00", nowUsec: Self.now) == z)
        #expect(TimeSpec.parse("2026-11-26T04:53:14-0100", nowUsec: Self.now) == z)
        #expect(TimeSpec.parse("2026-11-26T05:53:14.25Z", nowUsec: Self.now) == z.map { $0 + 250_000 })
        #expect(TimeSpec.parse("2026-11-26 05:53:14 UTC", nowUsec: Self.now) == z)
        #expect(TimeSpec.parse("@1700000000", nowUsec: Self.now) == 1_700_000_000_000_000)
        #expect(TimeSpec.parse("@1700000000.5", nowUsec: Self.now) == 1_700_000_000_500_000)
        #expect(TimeSpec.parse("0001-01-01T00:00:00Z", nowUsec: Self.now) == TimeSpec.earliestUsec)
        #expect(TimeSpec.parse("9999-12-31T23:59:59.999999Z", nowUsec: Self.now) == TimeSpec.latestUsec)
        #expect(TimeSpec.parse("2024-02-29", nowUsec: Self.now) != nil)
    }

    @Test("local times: YYYY-MM-DD HH:MM[:SS] and YYYY-MM-DD")
    func local() {
        let a = TimeSpec.parse("2026-11-26 05:53:14", nowUsec: Self.now)
        #expect(a != nil)
        #expect(TimeSpec.parse("2026-11-26T05:53:14", nowUsec: Self.now) == a)
        #expect(TimeSpec.parse("2026-11-26 05:53", nowUsec: Self.now) == a.map { $0 - 14_000_000 })
        let day = TimeSpec.parse("2026-11-26", nowUsec: Self.now)
        #expect(day != nil && a! - day! == (5 * 3600 + 53 * 60 + 14) * 1_000_000)
    }

    @Test(
        "relative times",
        arguments: [
            ("-1h", -3_600), ("1h ago", -3_600), ("7d ago", -7 * 86_400), ("30 min ago", -1_800), ("1h30m ago", -5_400),
            ("+5m", 300), ("2 hours ago", -7_200), ("now", 0), ("1 h 30 min ago", -5_400), ("2 weeks ago", -1_209_600),
        ] as [(String, Int64)])
    func relative(_ text: String, _ seconds: Int64) {
        #expect(TimeSpec.parse(text, nowUsec: Self.now) == Self.now + seconds * 1_000_000)
    }

    @Test("today and yesterday are local midnights")
    func days() {
        let today = TimeSpec.parse("today", nowUsec: Self.now)!
        let yesterday = TimeSpec.parse("yesterday", nowUsec: Self.now)!
        #expect(today <= Self.now && Self.now - today < 25 * 3_600_000_000)
        #expect(today - yesterday >= 23 * 3_600_000_000 && today - yesterday <= 25 * 3_600_000_000)
    }

    @Test(
        "nonsense is refused with a sentence that says why",
        arguments: [
            ("", "empty"), ("soon", "use e.g."), ("2026-13-01", "is not a date"), ("2026-02-30", "is not a date"),
            ("2026-11-26 25:00", "time of day"), ("5 parsecs ago", "use e.g."), ("-", "use e.g."),
            ("1h ago ago", "use e.g."), ("-1h ago", "use e.g."), ("30m 1h ago", "largest to the smallest"),
            ("2026-11-26T05:53:14+25:00", "zone offset"), ("@soon", "seconds since 1970"), ("@nan", "seconds since"),
            ("@inf", "seconds since"),
        ])
    func bad(_ text: String, _ reason: String) {
        let p = Self.problem(text)
        #expect(p?.contains(reason) == true, "\(text): \(String(describing: p))")
    }

    @Test(
        "what cannot be represented is refused, not trapped on",
        arguments: [
            "@1e30", "@-1e30", "@253402300800", "@-62135596801", "0000-12-31T23:59:59Z", "9999-12-31T23:59:59-01:00",
            "9999999999w ago", "+9999999999w", "99999999999999999999d ago", "+106751991d",
            "-1000000000000000000000000us",
        ])
    func unrepresentable(_ text: String) {
        let p = Self.problem(text)
        #expect(p != nil, "\(text) was accepted")
        #expect(p?.contains("years 1 to 9999") == true || p?.contains("too long") == true, "\(text): \(p ?? "")")
    }

    @Test("the far ends of now still work")
    func extremes() {
        #expect(TimeSpec.parse("now", nowUsec: TimeSpec.latestUsec) == TimeSpec.latestUsec)
        #expect(TimeSpec.parse("-1us", nowUsec: TimeSpec.earliestUsec) == nil)
        #expect(TimeSpec.parse("now", nowUsec: .max) == nil)
        #expect(TimeSpec.parse("+1s", nowUsec: .max) == nil)
        #expect(TimeSpec.parse("today", nowUsec: .min) == nil)
    }
}

@Suite("messages quote a little of a bad value")
struct ExcerptTests {
    @Test("at most the limit, control characters escaped and counted as written")
    func excerpt() {
        #expect(ConfigSyntaxError.excerpt("short") == "short")
        #expect(
            ConfigSyntaxError.excerpt(String(repeating: "a", count: 100)) == String(repeating: "a", count: 40) + "…")
        let controls = String(repeating: "\u{0F}", count: 40)
        #expect(ConfigSyntaxError.excerpt(controls) == String(repeating: "\\u{f}", count: 8) + "…")
        #expect(ConfigSyntaxError.excerpt("a\u{7F}b", limit: 8) == "a\\u{7f}b")
        // Found by the duration fuzz target: a unit of 40 control characters made a message of
        // 6 bytes each.
        guard case .failure(let p) = DurationSyntax.microseconds("5" + controls) else {
            Issue.record("accepted")
            return
        }
        #expect(p.message.utf8.count < 100, "\(p)")
    }
}
