import IOMMUCore
import Testing

@Suite("Status report and device summaries")
struct StatusReportTests {
    static func fault(
        _ vendor: Vendor, bus: UInt8, unit: String? = nil, reason: UInt16? = nil, address: UInt64 = 0x1000
    )
        -> Fault
    {
        Fault(
            vendor: vendor, kind: vendor == .intel ? .dmaWrite : "io-page-fault", recoverable: false,
            device: PCIAddress(bus: bus, device: 0, function: 0), unit: unit, reason: reason, address: address,
            text: "fault")
    }

    @Test("a unit sysfs does not know takes the vendor of most of its faults, whatever the order")
    func unknownUnitVendor() {
        let faults =
            (0..<3).map { Self.fault(.intel, bus: UInt8($0), reason: 5) }
            + (0..<5).map { Self.fault(.amd, bus: UInt8(10 + $0)) }
        for order in [faults, faults.reversed()] {
            var ledger = FaultLedger()
            for f in order { ledger.record(.fault(f)) }
            let report = StatusReport(ledger: ledger, topology: Topology(), daemon: nil)
            let unknown = report.units.first { $0.name == unknownLabel }
            #expect(unknown?.vendor == .amd)
            #expect(unknown?.logged == 8)
        }
    }

    @Test("devices are listed by fault count, then by address as text")
    func deviceOrder() {
        var ledger = FaultLedger()
        var rng = SystemRandomNumberGenerator()
        var totals: [String: Int] = [:]
        for _ in 0..<400 {
            // Few segments, buses and functions: many ties on the count and on leading bytes.
            let a = PCIAddress(
                segment: [0, 1, 0xa, 0x10, 0xffff].randomElement(using: &rng)!,
                bus: UInt8.random(in: 0...3, using: &rng), device: UInt8.random(in: 0...31, using: &rng),
                function: UInt8.random(in: 0...7, using: &rng))
            var f = Self.fault(.amd, bus: 0)
            f.device = a
            ledger.record(.fault(f))
            totals[a.description, default: 0] += 1
        }
        let text = StatusReport(ledger: ledger, topology: Topology(), daemon: nil).text()
        let rows = text.split(separator: "\n").drop { !$0.hasPrefix("Devices with faults") }.dropFirst(2)
        let listed = rows.prefix { $0.hasPrefix("  ") }.map { String($0.split(separator: " ")[0]) }
        let expected = totals.keys.sorted { a, b in totals[a]! != totals[b]! ? totals[a]! > totals[b]! : a < b }
        #expect(listed == expected)
    }

    @Test("the top reason is the most frequent; a tie goes to the lower code")
    func topReason() {
        var ledger = FaultLedger()
        for r: UInt16 in [6, 5, 6, 5, 0x26] { ledger.record(.fault(Self.fault(.intel, bus: 1, reason: r))) }
        #expect(ledger.devices["0000:01:00.0"]?.topReason?.reason == "0x05")
        #expect(ledger.devices["0000:01:00.0"]?.topReason?.count == 2)
        var amd = FaultLedger()
        amd.record(.fault(Self.fault(.amd, bus: 2)))
        #expect(amd.devices["0000:02:00.0"]?.topReason == nil, "no reason code: no top reason")
    }

    @Test("a device's counts by kind and by reason add up across several kinds and reasons")
    func tallies() {
        var ledger = FaultLedger()
        let kinds: [(FaultKind, UInt16)] = [
            (.dmaWrite, 5), (.dmaRead, 6), (.dmaWrite, 5), (.dmaRead, 5), (.dmaWrite, 6), (.dmaWrite, 5),
        ]
        for (kind, reason) in kinds {
            var f = Self.fault(.intel, bus: 4, reason: reason)
            f.kind = kind
            ledger.record(.fault(f))
        }
        let d = ledger.devices["0000:04:00.0"]
        #expect(d?.byKind == [.dmaWrite: 4, .dmaRead: 2])
        #expect(d?.byReason == ["0x05": 4, "0x06": 2])
        #expect(d?.topReason?.reason == "0x05" && d?.topReason?.count == 4, "summed over kinds")
        // The same counts, folded in from the counters in another order, are the same summary.
        var rebuilt = FaultLedger()
        for (k, v) in ledger.faults.sorted(by: { $0.key > $1.key }) { rebuilt.addFaults(k, count: v) }
        rebuilt.restoreLastFaults(["0000:04:00.0": (d!.lastFault!, d!.lastFaultRealtimeUsec)])
        #expect(rebuilt.devices == ledger.devices)
    }

    @Test("a copied summary keeps its own last fault")
    func summaryCopies() {
        var ledger = FaultLedger()
        ledger.record(.fault(Self.fault(.intel, bus: 3, reason: 5, address: 0x1000)))
        let before = ledger
        ledger.record(.fault(Self.fault(.intel, bus: 3, reason: 5, address: 0x2000)))
        #expect(before.devices["0000:03:00.0"]?.lastFault?.address == 0x1000)
        #expect(ledger.devices["0000:03:00.0"]?.lastFault?.address == 0x2000)
        #expect(before != ledger)
        var again = before
        again.record(.fault(Self.fault(.intel, bus: 3, reason: 5, address: 0x2000)))
        #expect(again == ledger, "equal summaries compare equal, whichever box holds the fault")
        var cleared = ledger.devices["0000:03:00.0"]!
        cleared.lastFault = nil
        #expect(cleared.lastFault == nil && ledger.devices["0000:03:00.0"]?.lastFault != nil)
    }

    @Test("tables align on columns, counting ≥ and — as one each")
    func tableColumns() {
        var t = TextTable(["A", "BOUNDS", "C"])
        t.add(["x", "≥ 3 (lower)", "y"])
        t.add(["longer", "—", "z"])
        let lines = t.render().split(separator: "\n").map(String.init)
        #expect(lines == ["  A       BOUNDS       C", "  x       ≥ 3 (lower)  y", "  longer  —            z"])
    }

    @Test("a table's columns are as wide as their widest cell, in Unicode scalars")
    func tableWidths() {
        var t = TextTable(["DEVICE", "N", "WHAT"])
        t.add(["dev1", "7", "≥ 4 (lower)"])
        t.add(["0000:00:01.0", "12345", "x"])
        #expect(
            t.render() == """
                  DEVICE        N      WHAT
                  dev1          7      ≥ 4 (lower)
                  0000:00:01.0  12345  x

                """)
    }

    @Test("control characters in a cell reach no terminal")
    func tableEscapes() {
        var t = TextTable(["TEXT"])
        t.add(["\u{1B}[31mred\u{7}\u{9B}2J\ttab"])
        #expect(t.render() == "  TEXT\n  \\x1b[31mred\\x07\\u{9b}2J\\x09tab\n")
    }
}
