import Glibc
import IOMMUCore

/// Which PCI function each StreamID of a unit is, as the firmware says (kernel-formats.md §7,
/// Topology.attribute): the device tree's `iommu-map` on the PCI host bridge, else ACPI IORT
/// (SMMUs) and VIOT (virtio-iommu). /sys/firmware/devicetree is readable by anyone; the ACPI
/// tables only by root — under the packaged unit (DynamicUser) they are not, and StreamIDs of ACPI
/// machines then stay StreamIDs.
extension TopologyScanner {
    /// Tables are small (IORT of a large server: a few KiB).
    static let firmwareTableLimit = 1 << 20

    func mapStreamIDs(_ t: inout Topology) {
        mapDeviceTree(&t)
        let units = t.sortedUnits  // names and addresses only: the maps added below do not change them
        if let iort = readBytes("\(sysfsRoot)/firmware/acpi/tables/IORT") {
            for m in FirmwareTables.iort(iort) {
                let vendor: Vendor = m.smmuV3 ? .armSMMUv3 : .armSMMU
                guard
                    let unit = units.first(where: {
                        $0.vendor == vendor && $0.address.flatMap(Self.hexValue) == m.smmuBase
                    })
                else { continue }
                add(m.range, to: unit.name, in: &t)
            }
        }
        if let viot = readBytes("\(sysfsRoot)/firmware/acpi/tables/VIOT") {
            for m in FirmwareTables.viot(viot) {
                let unit = units.first { u in
                    guard u.vendor == .virtioIOMMU else { return false }
                    switch m.iommu {
                    case .pci(let a): return u.logNames.contains(a.description)
                    case .mmio(let base):
                        return u.logNames.contains { Self.hexValue($0.prefix { $0 != "." }) == base }
                    }
                }
                if let unit { add(m.range, to: unit.name, in: &t) }
            }
        }
    }

    /// `iommu-map` of each PCI device's nearest ancestor that has one (the host bridge, or its
    /// `pciSSSS:BB` device), read against the `phandle` and `#iommu-cells` of the units' nodes.
    func mapDeviceTree(_ t: inout Topology) {
        var byPhandle: [UInt32: (unit: String, cells: Int)] = [:]
        for u in t.sortedUnits {
            let node = "\(sysfsRoot)/class/iommu/\(u.name)/device/of_node"
            guard let p = readBytes("\(node)/phandle").flatMap(FirmwareTables.cell) else { continue }
            let cells = readBytes("\(node)/#iommu-cells").flatMap(FirmwareTables.cell).map(Int.init) ?? 1
            byPhandle[p] = (u.name, cells)
        }
        guard !byPhandle.isEmpty else { return }
        var seen: Set<String> = []
        for addr in t.devices.keys.sorted() {
            guard let bridge = ancestorWithIOMMUMap("\(sysfsRoot)/bus/pci/devices/\(addr)"),
                seen.insert("\(bridge) \(addr.segment)").inserted,
                let map = readBytes("\(bridge)/of_node/iommu-map")
            else { continue }
            let mask = readBytes("\(bridge)/of_node/iommu-map-mask").flatMap(FirmwareTables.cell)
            for e in FirmwareTables.iommuMap(map, cells: { byPhandle[$0]?.cells }) {
                guard let target = byPhandle[e.phandle],
                    let range = FirmwareTables.range(e, segment: addr.segment, mask: mask)
                else { continue }
                add(range, to: target.unit, in: &t)
            }
        }
    }

    private func add(_ range: StreamRange, to unit: String, in t: inout Topology) {
        guard var u = t.units[unit], !u.streamMap.contains(range), u.streamMap.count < FirmwareTables.maxRanges
        else { return }
        u.streamMap.append(range)
        t.units[unit] = u
    }

    /// The nearest directory above the device's real sysfs path whose `of_node` has an
    /// `iommu-map`, up to the sysfs root.
    func ancestorWithIOMMUMap(_ path: String) -> String? {
        guard let real = realPath(path), let root = realPath(sysfsRoot) else { return nil }
        var dir = Substring(real)
        while dir.count > root.count, let slash = dir.lastIndex(of: "/") {
            dir = dir[..<slash]
            if fileExists("\(dir)/of_node/iommu-map") { return String(dir) }
        }
        return nil
    }

    func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    func readBytes(_ path: String) -> [UInt8]? {
        try? readSmallFileBytes(path, limit: Self.firmwareTableLimit)
    }

    /// `0x0000000009050000` (a unit's address), `9050000` (a device name's address part).
    static func hexValue(_ s: some StringProtocol) -> UInt64? {
        let whole = String(s)
        let digits = whole.hasPrefix("0x") ? whole.dropFirst(2) : Substring(whole)
        guard !digits.isEmpty, digits.count <= 16 else { return nil }
        return UInt64(digits, radix: 16)
    }
}
