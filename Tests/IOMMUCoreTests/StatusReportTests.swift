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
}
