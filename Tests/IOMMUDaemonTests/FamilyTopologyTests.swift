import Foundation
import IOMMUCore
import Testing

@testable import IOMMUDaemon

/// The drivers of kernel-formats.md §11 in sysfs: units known by their device's driver (or a
/// child's, for virtio-iommu), their interrupts by device name, and virtio-iommu endpoints mapped
/// to PCI functions only through ACPI VIOT.
@Suite("Topology of the other IOMMU drivers")
struct FamilyTopologyTests {
    /// A tree with two Rockchip IOMMUs (platform devices bound to `rk_iommu`) and QEMU's
    /// virtio-iommu-pci (0000:00:01.0, its `virtio0` bound to `virtio_iommu`) with edu behind it:
    /// `Fixtures/platforms/families/sys`, copied (the VIOT test adds a table to the copy).
    static func tree() -> (FakeSysfs, String) {
        let root = NSTemporaryDirectory() + "iommud-families-\(UInt32.random(in: 0...UInt32.max))"
        let cp = Process()
        cp.executableURL = URL(fileURLWithPath: "/bin/cp")
        cp.arguments = ["-a", fixturesRoot + "/platforms/families/sys", root]
        try? cp.run()
        cp.waitUntilExit()
        // Git keeps no empty directory.
        try? FileManager.default.createDirectory(atPath: root + "/kernel/irq", withIntermediateDirectories: true)
        return (FakeSysfs(root: root), root)
    }

    @Test("units by driver, aliases from children, interrupts by device name, shared lines left out")
    func unitsAndInterrupts() throws {
        let (_, root) = Self.tree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let t = TopologyScanner(sysfsRoot: root, pciIDsPaths: []).scan()
        #expect(t.units["ff8f3f00.iommu"]?.vendor == .rockchip)
        let v = try #require(t.units["0000:00:01.0"])
        #expect(v.vendor == .virtioIOMMU && v.aliases == ["virtio0"])
        // The log lines' names map to the sysfs units.
        #expect(t.unitName(forLineUnit: "virtio0") == "0000:00:01.0")
        #expect(t.unitName(forLineUnit: "ff650800.iommu") == "ff650800.iommu")
        let core = packageRoot + "/Tests/IOMMUCoreTests/Fixtures/interrupts/"
        let rows =
            ProcInterruptsParser.parse(try String(contentsOfFile: core + "families-constructed.txt", encoding: .utf8))
            + ProcInterruptsParser.parse(try String(contentsOfFile: core + "virtio-iommu-after.txt", encoding: .utf8))
        let obs = InterruptSampler.observations(rows, topology: t)
        func seen(_ irq: UInt32) -> [String] { obs.filter { $0.irq == irq }.map { "\($0.unit) \($0.vector)" } }
        #expect(seen(32) == ["ff650800.iommu fault"])
        // ff8f3f00.iommu shares its line with the VOP: the count is not the IOMMU's.
        #expect(seen(31).isEmpty)
        #expect(seen(41) == ["0000:00:01.0 evt"])
        #expect(seen(21) == ["0000:00:01.0 shared"])  // INTx, the real capture's line
    }

    @Test("virtio-iommu endpoints: a PCI function only through ACPI VIOT")
    func viot() throws {
        let (sys, root) = Self.tree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        func fault() -> Fault {
            Fault(
                vendor: .virtioIOMMU, kind: "page-fault", recoverable: false, unit: "virtio0", sourceID: 16,
                address: 0x1000, text: "virtio_iommu virtio0: page fault from EP 16 at 0x1000 []")
        }
        var bare = fault()
        TopologyScanner(sysfsRoot: root, pciIDsPaths: []).scan().attribute(&bare)
        #expect(bare.device == nil && bare.unit == "0000:00:01.0" && bare.sourceID == 16)
        // QEMU's VIOT (hw/acpi/viot.c): the host bridge's buses as one PCI range with endpoint id
        // = BDF, output the virtio-iommu-pci node of 0000:00:01.0.
        sys.writeRaw("firmware/acpi/tables/VIOT", FirmwareTableBytes.viot(iommuBDF: 0x0008, bdfs: 0x0000...0xffff))
        let t = TopologyScanner(sysfsRoot: root, pciIDsPaths: []).scan()
        #expect(
            t.units["0000:00:01.0"]?.streamMap == [StreamRange(firstID: 0, count: 0x10000, segment: 0, firstRID: 0)])
        var mapped = fault()
        t.attribute(&mapped)
        #expect(mapped.device?.description == "0000:00:02.0" && mapped.deviceAssumed)
    }
}

@Suite("Topology: SMMU StreamIDs through ACPI IORT")
struct IORTTopologyTests {
    @Test("an IORT root-complex mapping names the PCI function of a StreamID; without it, none")
    func iort() throws {
        let tree = PlatformTree(.smmuv3QEMU)
        // An ACPI machine: no device tree map, the IORT instead (SID = 0x10000 + RID).
        try FileManager.default.removeItem(atPath: tree.root + "/sys/firmware/devicetree/base/pcie@10000000/iommu-map")
        tree.sys.writeRaw(
            "firmware/acpi/tables/IORT",
            FirmwareTableBytes.iort(smmuBase: 0x905_0000, segment: 0, rids: 0...0xffff, firstSID: 0x1_0000))
        let t = tree.scan()
        func attributed(_ sid: UInt32) -> Fault {
            var f = Fault(
                vendor: .armSMMUv3, kind: "f-translation", recoverable: false, unit: "9050000.smmuv3", sourceID: sid,
                text: "x")
            t.attribute(&f)
            return f
        }
        #expect(attributed(0x1_0008).device?.description == "0000:00:01.0")
        #expect(attributed(0x8).device == nil)  // below the mapped range: a platform master's
    }
}

@Suite("Firmware tables from outside")
struct FirmwareTablesTests {
    @Test("every prefix and every corrupted byte of an IORT, a VIOT and an iommu-map parses without trapping")
    func hostile() {
        let iort = FirmwareTableBytes.iort(smmuBase: 0x905_0000, segment: 3, rids: 0x100...0x1ff, firstSID: 0x800)
        let viot = FirmwareTableBytes.viot(iommuBDF: 8, bdfs: 0...0xff)
        #expect(
            FirmwareTables.iort(iort).map(\.range) == [
                StreamRange(firstID: 0x800, count: 0x100, segment: 3, firstRID: 0x100)
            ])
        #expect(FirmwareTables.viot(viot).count == 1)
        for n in 0..<iort.count { #expect(FirmwareTables.iort(Array(iort[..<n])).isEmpty) }
        for n in 0..<viot.count { #expect(FirmwareTables.viot(Array(viot[..<n])).isEmpty) }
        for i in 36..<iort.count {
            for v: UInt8 in [0, 0x7f, 0xff] {
                var b = iort
                b[i] = v
                #expect(FirmwareTables.iort(b).count <= 1)
            }
        }
        for i in 36..<viot.count {
            for v: UInt8 in [0, 0x7f, 0xff] {
                var b = viot
                b[i] = v
                #expect(FirmwareTables.viot(b).count <= 256)
            }
        }
        // iommu-map: a phandle whose cell count is unknown ends the parse; a mask folds ids.
        let map: [UInt8] = [0, 0, 0, 0, 0, 0, 0x80, 4, 0, 0, 0x1c, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 9]
        let entries = FirmwareTables.iommuMap(map) { $0 == 0x8004 ? 1 : nil }
        #expect(entries.count == 1 && entries[0].idBase == 0x1c00 && entries[0].length == 1)
        #expect(FirmwareTables.range(entries[0], segment: 0, mask: 0xff00) == nil)
        for n in 0..<map.count { #expect(FirmwareTables.iommuMap(Array(map[..<n])) { _ in 1 }.count <= 1) }
    }
}

/// ACPI tables as firmware lays them out, for tests (and the fuzz seeds).
enum FirmwareTableBytes {
    static func header(_ sig: String, length: Int) -> [UInt8] {
        var h = Array(sig.utf8) + le32(UInt32(length)) + [1, 0] + Array("IOMMUD".utf8) + Array("TESTTBL ".utf8)
        h += le32(1) + Array("TEST".utf8) + le32(1)
        return h
    }

    static func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8)] }
    static func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

    static func le64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

    /// IORT: one SMMUv3 node at `smmuBase`, one root complex of `segment` mapping requester ids
    /// `rids` to StreamIDs from `firstSID`.
    static func iort(smmuBase: UInt64, segment: UInt32, rids: ClosedRange<UInt32>, firstSID: UInt32) -> [UInt8] {
        var smmu: [UInt8] = [4] + le16(68) + [4] + le32(0) + le32(0) + le32(0) + le64(smmuBase)
        smmu += [UInt8](repeating: 0, count: 68 - smmu.count)
        var rc: [UInt8] = [2] + le16(56) + [1] + le32(1) + le32(1) + le32(36)
        rc += [UInt8](repeating: 0, count: 12) + le32(segment) + [0x30, 0, 0, 0]
        rc += le32(rids.lowerBound) + le32(rids.upperBound - rids.lowerBound) + le32(firstSID) + le32(48) + le32(0)
        let body = le32(2) + le32(48) + le32(0) + smmu + rc
        return header("IORT", length: 36 + body.count) + body
    }

    /// VIOT: one PCI range (segment 0, `bdfs`, endpoint = BDF) into one virtio-iommu-pci node.
    static func viot(iommuBDF: UInt16, bdfs: ClosedRange<UInt16>) -> [UInt8] {
        let iommuNode = 48 + 24
        var range: [UInt8] = [1, 0] + le16(24) + le32(UInt32(bdfs.lowerBound)) + le16(0) + le16(0)
        range += le16(bdfs.lowerBound) + le16(bdfs.upperBound) + le16(UInt16(iommuNode)) + [0, 0, 0, 0, 0, 0]
        let node: [UInt8] = [3, 0] + le16(16) + le16(0) + le16(iommuBDF) + [UInt8](repeating: 0, count: 8)
        let body = le16(2) + le16(48) + [UInt8](repeating: 0, count: 8) + range + node
        return header("VIOT", length: 36 + body.count) + body
    }
}
