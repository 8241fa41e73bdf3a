import IOMMUCore
import Testing

/// Expected faults through the pipeline: counted exactly, apart; kept by rule name across
/// reloads and checkpoints; shown in `status`, the journal entry and `replay --json`.
@Suite("Expected-fault rules: counting")
struct ExpectedLedgerTests {
    static let nic = PCIAddress(segment: 1, bus: 0x81, device: 0, function: 0)

    static func topology() -> Topology {
        var t = Topology()
        t.scanned = true
        t.units["dmar4"] = Topology.Unit(name: "dmar4", vendor: .intel, devices: [nic])
        t.devices[nic] = Topology.Device(
            address: nic, unit: "dmar4", group: 501, vendorID: "0x8086", deviceID: "0x10d3", driver: "vfio-pci")
        return t
    }

    static func rules(_ names: [String] = ["nic-probe", "bmc-usb"]) -> ExpectedRules {
        ExpectedRules(
            names.map { name in
                var r = ExpectedRule(name: name)
                if name == "bmc-usb" {
                    r.devices = [.pci(PCIAddress(bus: 0, device: 0x14, function: 0))]
                } else {
                    r.pciIDs = [.init(vendor: 0x8086, device: 0x10d3)]
                    r.kinds = [.dmaRead]
                }
                return r
            })
    }

    static func read(bus: String, seq: Int, address: UInt64 = 0x7f00_1000, write: Bool = false) -> String {
        let (kind, reason, what) = write ? ("Write", "0x05", "Write") : ("Read", "0x06", "Read")
        return
            "3,\(seq),\(seq * 1_000_000),-;DMAR: [DMA \(kind) NO_PASID] Request device [\(bus)] fault addr 0x\(String(address, radix: 16)) [fault reason \(reason)] PTE \(what) access is not set\n"
    }

    /// Two NIC reads (expected), a NIC write and another device's read (not).
    static func pipeline(rules: ExpectedRules = rules()) -> (KmsgPipeline, KmsgPipeline.Commit) {
        var p = KmsgPipeline(fromStartOfBoot: false, topology: topology())
        p.setExpectedRules(rules)
        let text =
            read(bus: "81:00.0", seq: 1) + read(bus: "81:00.0", seq: 2, address: 0x7f00_2000)
            + read(bus: "81:00.0", seq: 3, write: true) + read(bus: "03:00.0", seq: 4)
        text.withBytes { p.read(stream: $0, isFinal: true) }
        let c = p.commit(realtimeOffsetUsec: 1_795_000_000_000_000)
        return (p, c)
    }

    @Test("a matching fault is counted under its rule, apart: the fault series and unit counts leave it out")
    func countedApart() throws {
        let (p, c) = Self.pipeline()
        #expect(c.faults.map(\.expectedRule) == ["nic-probe", "nic-probe", nil, nil])
        let l = p.ledger
        #expect(l.totalFaults == 2, "the NIC's write and the other device's read")
        #expect(l.devices["0001:81:00.0"]?.total == 1 && l.devices["0001:81:00.0"]?.byKind == [.dmaWrite: 1])
        #expect(l.unitFaults()["dmar4"]?.nonRecoverable == 1)
        #expect(l.expected.totalFaults == 2)
        let nic = try #require(l.expected["nic-probe"])
        #expect(nic.configured && nic.matches == 2)
        let key = FaultCounterKey(
            unit: "dmar4", device: "0001:81:00.0", vendor: .intel, kind: .dmaRead, reason: "0x06", recoverable: false)
        #expect(nic.series == [key: 2])
        #expect(nic.lastMatch?.address == 0x7f00_2000 && nic.lastMatch?.expectedRule == "nic-probe")
        #expect(nic.lastMatchRealtimeUsec == Int64(1_795_000_002_000_000))
        let bmc = try #require(l.expected["bmc-usb"])
        #expect(bmc.configured && bmc.matches == 0 && bmc.lastMatch == nil, "listed though it never matched")
        #expect(l.expected.tallies.map(\.rule) == ["nic-probe", "bmc-usb"], "in the order of the file")
        // The lifetime totals (status's last line) are those of the faults outside rules.
        #expect(LifetimeTotals().including(l).faults == 2)
    }

    @Test("without rules nothing changes: every fault is counted as before")
    func noRules() {
        let (p, c) = Self.pipeline(rules: ExpectedRules())
        #expect(c.faults.allSatisfy { $0.expectedRule == nil })
        #expect(p.ledger.totalFaults == 4 && p.ledger.expected.isEmpty)
    }

    @Test("reload: counts stay with the rule's name; removed or renamed rules keep what they counted, marked")
    func reload() throws {
        var (p, _) = Self.pipeline()
        let generation = p.generation
        // Renamed: the old name keeps its 2, no longer configured; the new one starts at 0.
        p.setExpectedRules(Self.rules(["nic-fw", "bmc-usb"]))
        #expect(p.generation != generation, "the metrics cache sees the change")
        var e = p.ledger.expected
        #expect(e.tallies.map(\.rule) == ["nic-fw", "bmc-usb", "nic-probe"])
        #expect(e["nic-probe"]?.matches == 2 && e["nic-probe"]?.configured == false)
        #expect(e["nic-fw"]?.matches == 0 && e["nic-fw"]?.configured == true)
        #expect(e.totalFaults == 2, "nothing counted this boot disappears")
        // Faults from now on go to the new name.
        Self.read(bus: "81:00.0", seq: 5).withBytes { p.read(stream: $0, isFinal: true) }
        _ = p.commit()
        e = p.ledger.expected
        #expect(e["nic-fw"]?.matches == 1 && e["nic-probe"]?.matches == 2)
        // Removed: a rule that counted nothing is forgotten; one that counted is kept.
        p.setExpectedRules(Self.rules(["nic-probe"]))
        e = p.ledger.expected
        #expect(e.tallies.map(\.rule) == ["nic-probe", "nic-fw"], "bmc-usb had counted nothing")
        #expect(e["nic-probe"]?.configured == true && e["nic-probe"]?.matches == 2, "back under its old name")
        #expect(e["nic-fw"]?.configured == false)
        // No rules at all: faults count as faults again; what the rules counted stays.
        p.setExpectedRules(ExpectedRules())
        Self.read(bus: "81:00.0", seq: 6).withBytes { p.read(stream: $0, isFinal: true) }
        _ = p.commit()
        #expect(p.ledger.expected.totalFaults == 3 && p.ledger.totalFaults == 3)
        #expect(p.ledger.expected.tallies.allSatisfy { !$0.configured })
    }

    @Test("at most 256 rules no longer configured are kept: the oldest go first")
    func retiredBound() throws {
        var e = ExpectedLedger()
        let key = FaultCounterKey(
            unit: "dmar0", device: "0000:00:01.0", vendor: .intel, kind: .dmaRead, reason: "0x06", recoverable: false)
        for batch in 0..<3 {
            let names = (0..<100).map { "r\(batch)-\($0)" }
            e.configure(names)
            for n in names { e.addFaults(rule: n, key: key, count: 1) }
        }
        e.configure(["new"])
        #expect(e.tallies.count == 1 + ExpectedLedger.maxRetired)
        #expect(e["r0-43"] == nil && e["r0-44"] != nil && e["r2-99"] != nil, "the oldest 44 went")
        #expect(e.tallies.first?.rule == "new" && e.tallies.dropFirst().first?.rule == "r0-44")
        #expect(e.totalFaults == 256 && e.seriesCount == 256)
    }

    @Test("at most 4096 series: further devices count, exactly, under device overflow of their rule")
    func seriesBound() throws {
        var p = KmsgPipeline(fromStartOfBoot: false)
        var r = ExpectedRule(name: "any-read")
        r.kinds = [.dmaRead]
        p.setExpectedRules(ExpectedRules([r]))
        var text = ""
        for i in 0..<5000 {
            let bdf = String(i / 32 % 256, radix: 16) + ":" + String(i % 32, radix: 16) + "." + String(i / 8192)
            text += Self.read(bus: bdf, seq: i + 1)
        }
        text.withBytes { p.read(stream: $0, isFinal: true) }
        _ = p.commit()
        let t = try #require(p.ledger.expected["any-read"])
        #expect(t.matches == 5000)
        #expect(p.ledger.expected.seriesCount == ExpectedLedger.maxSeries + 1)
        #expect(t.byDevice.first { $0.device == FaultLedger.overflowDevice }?.count == 5000 - 4096)
    }

    @Test("the checkpoint keeps each rule's series and last match; one written before rules existed loads")
    func checkpoint() throws {
        let (p, _) = Self.pipeline()
        let s = CheckpointState(
            bootID: "b", resumeSeq: 4, countedSeq: 4, writtenUsec: 1, ledger: p.ledger, lifetime: LifetimeTotals())
        let text = CheckpointCodec.encode(s)
        #expect(text.contains("\nexpected\tnic-probe\tdmar4\t0001:81:00.0\tintel\tdma-read\t0x06\t0\t2\n"))
        #expect(text.contains("\nexpected_last\tnic-probe\t1795000002000000\t{"))
        var back = try CheckpointCodec.decode(text)
        #expect(CheckpointCodec.encode(back) == text, "the same bytes again")
        #expect(back.ledger.expected["nic-probe"]?.configured == false, "until the configuration names it")
        // The daemon's start: the checkpoint's ledger, then the configuration's rules.
        var resumed = KmsgPipeline(ledger: back.ledger, topology: Self.topology())
        resumed.setExpectedRules(Self.rules())
        #expect(resumed.ledger == p.ledger)
        back.ledger = resumed.ledger
        #expect(back.ledger.expected["nic-probe"]?.lastMatch == p.ledger.expected["nic-probe"]?.lastMatch)
        // A checkpoint of an iommud without rules (format 2 as it was) loads, with no rule counts.
        let old = try CheckpointCodec.decode(Fixtures.read("checkpoint/v2-before-expected.txt"))
        #expect(old.version == 2 && old.ledger.totalFaults == 3 && old.ledger.expected.isEmpty)
        #expect(old.ledger.devices["0001:81:00.0"]?.lastFault?.address == 0x7f00_1000)
        // A bad rule name in an expected line is corruption, named by its line.
        let bad = text.replacingFirst("expected\tnic-probe", with: "expected\tnic probe")
        #expect(throws: CheckpointDecodeError.self) { try CheckpointCodec.decode(bad) }
    }

    @Test("status: a section per rule, with never-matched and no-longer-configured rules; JSON beside it")
    func status() throws {
        var (p, _) = Self.pipeline()
        p.setExpectedRules(Self.rules(["bmc-usb"]))
        let report = StatusReport(ledger: p.ledger, topology: p.topology, daemon: nil)
        let text = report.text()
        #expect(text.contains("\nExpected faults ([[expected]] rules:"), "\(text)")
        let rows = text.split(separator: "\n").map(String.init)
        let bmc = try #require(rows.first { $0.hasPrefix("  bmc-usb ") })
        #expect(bmc.contains(" 0 ") && bmc.contains("never matched since boot"), "\(bmc)")
        let nic = try #require(rows.first { $0.hasPrefix("  nic-probe (no longer configured)") })
        #expect(nic.contains(" 2 ") && nic.contains("0001:81:00.0 dma-read 0x7f002000"), "\(nic)")
        #expect(nic.contains("0001:81:00.0 (2)"))
        #expect(text.contains("2026-") || text.contains("T"), "the last match's wall time")
        let json = try #require(MiniJSON.parse(report.json()))
        guard case .array(let rules)? = json["expected"] else {
            Issue.record("no expected array")
            return
        }
        #expect(rules.count == 2)
        #expect(rules[0]["rule"] == .string("bmc-usb") && rules[0]["matches"] == .number(0))
        #expect(rules[0]["configured"] == .bool(true) && rules[0]["last_match"] == nil)
        #expect(rules[1]["rule"] == .string("nic-probe") && rules[1]["configured"] == .bool(false))
        #expect(rules[1]["devices"]?["0001:81:00.0"] == .number(2))
        #expect(rules[1]["last_match"]?["expected"] == .string("nic-probe"))
        // No rules and no counts: no section (the status of a machine without rules is unchanged).
        let plain = StatusReport(
            ledger: Self.pipeline(rules: ExpectedRules()).0.ledger, topology: Topology(), daemon: nil)
        #expect(!plain.text().contains("Expected faults"))
    }

    @Test("the journal entry: PRIORITY 6 and the rule's name; read back by iommud log; replay --json says it")
    func journalAndJSON() throws {
        let (_, c) = Self.pipeline()
        let f = c.faults[0]
        let fields = JournalEntries.fault(f, device: .init(driver: "vfio-pci"), realtimeOffsetUsec: 0)
        let d = Dictionary(fields.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
        #expect(d["PRIORITY"] == "6" && d["IOMMUD_EXPECTED_RULE"] == "nic-probe")
        #expect(d["MESSAGE_ID"] == MessageID.fault)
        #expect(d["MESSAGE"]?.hasSuffix("(expected: rule nic-probe in iommud.toml)") == true, "\(d["MESSAGE"] ?? "")")
        #expect(fields.allSatisfy { JournalField.isValidName($0.name) })
        #expect(JournalEntries.fault(fromFields: d)?.expectedRule == "nic-probe")
        let other = JournalEntries.fault(c.faults[2], device: .init(), realtimeOffsetUsec: 0)
        #expect(other.first { $0.name == "PRIORITY" }?.value == "3")
        #expect(!other.contains { $0.name == "IOMMUD_EXPECTED_RULE" })
        #expect(f.jsonLine().hasSuffix(",\"expected\":\"nic-probe\"}"))
        #expect(Fault(json: f.jsonLine())?.expectedRule == "nic-probe")
        #expect(!c.faults[2].jsonLine().contains("\"expected\""), "only faults a rule matched carry the key")
    }
}

extension MiniJSON {
    /// An object's member (nil for anything else).
    subscript(key: String) -> MiniJSON? {
        if case .object(let o) = self { return o[key] }
        return nil
    }
}
