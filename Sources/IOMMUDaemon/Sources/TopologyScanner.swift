import IOMMUCore

/// Reads the IOMMU topology from a sysfs root (kernel-formats.md §7): units from
/// /sys/class/iommu, the PCI devices and their unit/group/driver links, IOMMU groups.
/// The root is configurable so tests point it at fake trees.
public struct TopologyScanner: Sendable {
    public var sysfsRoot: String
    public var cmdlinePath: String?

    public init(sysfsRoot: String, cmdlinePath: String? = nil) {
        self.sysfsRoot = sysfsRoot
        self.cmdlinePath = cmdlinePath
    }

    public func scan() -> Topology {
        var t = Topology()
        t.scanned = true
        if let cmdlinePath, let c = try? readSmallFile(cmdlinePath) { t.commandLine = c.trimmingCharacters() }
        for name in listDirectory("\(sysfsRoot)/class/iommu") {
            if let u = scanUnit(name) { t.units[name] = u }
        }
        for name in listDirectory("\(sysfsRoot)/kernel/iommu_groups") {
            guard let id = Int(name) else { continue }
            let dir = "\(sysfsRoot)/kernel/iommu_groups/\(name)"
            let type = (try? readSmallFile("\(dir)/type"))?.trimmingCharacters()
            let devices = listDirectory("\(dir)/devices").compactMap { PCIAddress(parsing: $0) }.sorted()
            t.groups[id] = Topology.Group(id: id, type: type, devices: devices)
        }
        for name in listDirectory("\(sysfsRoot)/bus/pci/devices") {
            guard let addr = PCIAddress(parsing: name) else { continue }
            let dir = "\(sysfsRoot)/bus/pci/devices/\(name)"
            var d = Topology.Device(address: addr)
            d.vendorID = (try? readSmallFile("\(dir)/vendor"))?.trimmingCharacters()
            d.deviceID = (try? readSmallFile("\(dir)/device"))?.trimmingCharacters()
            d.classID = (try? readSmallFile("\(dir)/class"))?.trimmingCharacters()
            d.driver = readLink("\(dir)/driver").map(basename)
            d.unit = readLink("\(dir)/iommu").map(basename)
            d.group = readLink("\(dir)/iommu_group").flatMap { Int(basename($0)) }
            t.devices[addr] = d
        }
        // Units list their devices too; fill in a device's unit from there when its own link
        // is missing (older kernels).
        for u in t.units.values {
            for a in u.devices where t.devices[a] != nil && t.devices[a]!.unit == nil { t.devices[a]!.unit = u.name }
        }
        return t
    }

    func scanUnit(_ name: String) -> Topology.Unit? {
        let dir = "\(sysfsRoot)/class/iommu/\(name)"
        var u: Topology.Unit
        func attr(_ p: String) -> String? { (try? readSmallFile("\(dir)/\(p)"))?.trimmingCharacters() }
        if isDirectory("\(dir)/intel-iommu") {
            u = Topology.Unit(name: name, vendor: .intel)
            u.version = attr("intel-iommu/version")
            u.cap = attr("intel-iommu/cap")
            u.ecap = attr("intel-iommu/ecap")
            u.address = attr("intel-iommu/address")
        } else if isDirectory("\(dir)/amd-iommu") {
            u = Topology.Unit(name: name, vendor: .amd)
            u.cap = attr("amd-iommu/cap")
            u.ecap = attr("amd-iommu/features")
        } else if name.hasPrefix("smmu3.") {
            u = Topology.Unit(name: name, vendor: .armSMMUv3)
            u.address = String(name.dropFirst(6))
        } else if name.hasPrefix("smmu.") {
            u = Topology.Unit(name: name, vendor: .armSMMU)
            u.address = String(name.dropFirst(5))
        } else if name.hasPrefix("dmar") {
            u = Topology.Unit(name: name, vendor: .intel)
        } else if name.hasPrefix("ivhd") {
            u = Topology.Unit(name: name, vendor: .amd)
        } else {
            return nil
        }
        u.devices = listDirectory("\(dir)/devices").compactMap { PCIAddress(parsing: $0) }.sorted()
        // The unit's own device: AMD's IOMMU PCI function, the SMMU platform device. Its
        // msi_irqs/ names the unit's interrupts, which share one action name across units.
        if let link = readLink("\(dir)/device") {
            u.platformDevice = basename(link)
            u.irqs = listDirectory("\(dir)/device/msi_irqs").compactMap { UInt32($0) }.sorted()
        }
        return u
    }
}
