// libFuzzer target: the firmware tables that map StreamIDs to PCI functions (FirmwareTables):
// ACPI IORT and VIOT, a device-tree iommu-map — bytes the daemon reads from /sys/firmware.

@testable import IOMMUCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFirmware(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let b = Array(UnsafeBufferPointer(start: data, count: size))
    // The same bytes as each table (the signature bytes can be anything: fuzz both).
    var iort = b
    var viot = b
    if iort.count >= 4 {
        iort.replaceSubrange(0..<4, with: "IORT".utf8)
        viot.replaceSubrange(0..<4, with: "VIOT".utf8)
    }
    for t in [b, iort] {
        let m = FirmwareTables.iort(t)
        precondition(m.count <= FirmwareTables.maxRanges)
        for x in m { check(x.range) }
    }
    for t in [b, viot] {
        let m = FirmwareTables.viot(t)
        precondition(m.count <= FirmwareTables.maxRanges)
        for x in m { check(x.range) }
    }
    let cells = Int(b.first ?? 0) % 5
    for e in FirmwareTables.iommuMap(b, cells: { $0 & 1 == 0 ? cells : nil }) {
        if let r = FirmwareTables.range(e, segment: 0, mask: b.count > 1 ? UInt32(b[1]) * 0x101 : nil) { check(r) }
    }
    _ = FirmwareTables.cell(b)
    return 0
}

/// Every id a range maps lands on one PCI function of its segment.
func check(_ r: StreamRange) {
    precondition(r.count > 0)
    for id in [r.firstID, r.firstID &+ r.count &- 1, r.firstID &+ r.count, UInt32.max] {
        if let d = r.device(for: id) { precondition(d.segment == r.segment) }
    }
}
