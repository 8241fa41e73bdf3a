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
            ("[storm]\nthreshold = 0\n", 2, "'storm.threshold' must be from 1 to 10000, not 0"),
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

@Suite("iommud log: what it prints")
struct JournalLogTextTests {
    @Test("control characters in what the journal holds reach no terminal (fault and storm rows)")
    func escapes() {
        let evil = "\u{1B}]0;owned\u{07}\u{1B}[2J\u{9B}31m"
        let f = Fault(
            vendor: .intel, kind: .dmaWrite, recoverable: false, device: PCIAddress(bus: 1, device: 0, function: 0),
            unit: "dmar0" + evil, reason: 5, reasonText: "PTE Write " + evil, address: 0x1000, text: "t" + evil)
        let entries = [
            JournalLog.Entry(messageID: MessageID.fault, timeUsec: 1_000_000, fault: f, fields: [:]),
            JournalLog.Entry(
                messageID: MessageID.stormSummary, timeUsec: 2_000_000, fault: nil,
                fields: [
                    "IOMMU_DEVICE": "0000:01:00.0" + evil, "IOMMU_STORM_REASONS": evil, "IOMMU_STORM_FAULTS": evil,
                ]),
        ]
        let text = JournalLog.table(entries)
        #expect(text.contains("PTE Write \\x1b]0;owned\\x07"), "\(text)")
        #expect(!text.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 || $0.value == 0x9B })
    }
}

@Suite("Journal read-back")
struct JournalReadBackTests {
    static func pack(_ data: [[UInt8]]) -> [UInt8] {
        data.flatMap { d in (0..<4).map { UInt8(truncatingIfNeeded: d.count >> (8 * $0)) } + d }
    }

    @Test("an entry's packed fields come back by name, values with '=' and newlines whole")
    func unpack() {
        let packed = Self.pack([
            Array("MESSAGE=a=b\nc".utf8), Array("KMSG_SEQ=42".utf8), Array("NOEQUALS".utf8), Array("EMPTY=".utf8),
        ])
        let f = JournalReader.unpack(packed[...])
        #expect(f == ["MESSAGE": "a=b\nc", "KMSG_SEQ": "42", "EMPTY": ""])
    }

    @Test("a packed entry cut short, or a length past the end, ends the fields there")
    func truncated() {
        let packed = Self.pack([Array("A=1".utf8), Array("B=2".utf8)])
        #expect(JournalReader.unpack(packed.dropLast(1)[...]) == ["A": "1"])
        #expect(JournalReader.unpack(packed.prefix(9)) == ["A": "1"])
        #expect(JournalReader.unpack([0xff, 0xff, 0xff, 0x7f, 0x41][...]) == [:])
        #expect(JournalReader.unpack([][...]) == [:])
    }
}
