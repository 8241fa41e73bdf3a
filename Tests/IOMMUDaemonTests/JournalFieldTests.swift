import IOMMUCore
import Testing

@testable import IOMMUDaemon

@Suite("Journal sink pieces")
struct JournalSinkPieceTests {
    @Test("every field the daemon sends is a name journald keeps (both validators agree)")
    func fieldNames() {
        let f = Fault(
            vendor: .armSMMUv3, kind: "f-translation", recoverable: true,
            device: PCIAddress(bus: 1, device: 0, function: 0),
            unit: "smmu3.0x0000000009050000", sourceID: 0x100, reason: 0x10, reasonText: "x", owner: .hardware,
            address: 0x1000, pasid: 3, access: .read, driver: "d", detail: "y", seq: 1, timestampUsec: 2, text: "t")
        var d = f
        d.deviceAssumed = true
        var names = Set<String>()
        for x in [f, d] {
            for field in JournalEntries.fault(x, device: .init(driver: "d", group: 1, name: "n"), realtimeOffsetUsec: 1)
            {
                names.insert(field.name)
            }
        }
        names.insert(JournalSink.sourceField)
        names.insert(JournalSink.stateField)
        names.insert("IOMMUD_JOURNAL_HELD_BACK")
        for n in names {
            #expect(Journal.isValidFieldName(n), "\(n)")
            #expect(JournalField.isValidName(n), "\(n)")
        }
    }

    @Test("[journal], [storm] and [actions] parse with the contract's defaults")
    func config() throws {
        let defaults = Configuration()
        #expect(defaults.journalEnabled)
        #expect(defaults.stormThreshold == 10)
        #expect(defaults.stormWindow == .seconds(10))
        #expect(defaults.stormSummaryInterval == .seconds(60))
        #expect(defaults.journalMaxPerSecond == 5)
        #expect(defaults.onFault.isEmpty && defaults.onStorm.isEmpty)
        #expect(defaults.actionTimeout == .seconds(10))
        #expect(defaults.actionsMaxPerMinute == 10)
        #expect(defaults.actionsMaxConcurrent == 2)
        let text = """
            [journal]
            enabled = false
            [storm]
            threshold = 3
            window = "2s"
            summary_interval = "5s"
            journal_max_per_second = 7
            [actions]
            on_fault = ["/bin/sh", "-c", "env > /tmp/x"]
            on_storm = ["/usr/bin/logger", "storm"]
            timeout = "1s"
            max_per_minute = 4
            max_concurrent = 1
            """
        let c = try ConfigLoader.load(path: "t.toml", text: text).get()
        #expect(!c.journalEnabled)
        #expect(c.stormThreshold == 3 && c.stormWindow == .seconds(2) && c.stormSummaryInterval == .seconds(5))
        #expect(c.journalMaxPerSecond == 7)
        #expect(c.onFault == ["/bin/sh", "-c", "env > /tmp/x"])
        #expect(c.onStorm == ["/usr/bin/logger", "storm"])
        #expect(c.actionTimeout == .seconds(1) && c.actionsMaxPerMinute == 4 && c.actionsMaxConcurrent == 1)
        // The effective config parses back to the same.
        let back = try ConfigLoader.load(path: "t.toml", text: c.rendered()).get()
        #expect(back.onFault == c.onFault && back.stormSummaryInterval == c.stormSummaryInterval)
    }

    @Test(
        "bad [storm]/[actions] values name file, line and key",
        arguments: [
            ("[storm]\nthreshold = 0\n", 2, "must be greater than 0"),
            ("[storm]\nwindow = 10\n", 2, "'storm.window' must be a duration"),
            ("[actions]\non_fault = [\"sh\", \"-c\", \"x\"]\n", 2, "must be an absolute path"),
            ("[actions]\non_fault = \"/bin/true\"\n", 2, "'actions.on_fault' must be an array"),
            ("[journal]\nenable = true\n", 2, "unknown key 'journal.enable'"),
        ])
    func badConfig(_ text: String, _ line: Int, _ message: String) {
        switch ConfigLoader.load(path: "t.toml", text: text) {
        case .success: Issue.record("accepted: \(text)")
        case .failure(let p):
            #expect(p.description.contains("t.toml:\(line):"), "\(p)")
            #expect(p.description.contains(message), "\(p)")
        }
    }
}

@Suite("iommud log times")
struct TimeSpecTests {
    static let now: Int64 = 1_795_679_059_000_000

    @Test("ISO 8601 with a zone, @seconds")
    func absolute() {
        let z = TimeSpec.parse("2026-11-26T05:53:14Z", nowUsec: Self.now)
        #expect(z.map { CivilTime.iso8601(unixSeconds: $0 / 1_000_000) } == "2026-11-26T05:53:14Z")
        #expect(TimeSpec.parse("2026-11-26T06:53:14+01:00", nowUsec: Self.now) == z)
        #expect(TimeSpec.parse("2026-11-26T04:53:14-0100", nowUsec: Self.now) == z)
        #expect(TimeSpec.parse("2026-11-26T05:53:14.25Z", nowUsec: Self.now) == z.map { $0 + 250_000 })
        #expect(TimeSpec.parse("2026-11-26 05:53:14 UTC", nowUsec: Self.now) == z)
        #expect(TimeSpec.parse("@1700000000", nowUsec: Self.now) == 1_700_000_000_000_000)
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
            ("+5m", 300), ("2 hours ago", -7_200), ("now", 0),
        ])
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
        "nonsense is refused",
        arguments: ["", "soon", "2026-13-01", "2026-11-26 25:00", "5 parsecs ago", "-", "1h ago ago"])
    func bad(_ text: String) {
        #expect(TimeSpec.parse(text, nowUsec: Self.now) == nil)
    }
}
