import IOMMUCore

/// Reads the IOMMU topology from a sysfs root (kernel-formats.md §7): units from
/// /sys/class/iommu, the PCI devices and their unit/group/driver links, IOMMU groups.
/// The root is configurable so tests point it at fake trees.
public struct TopologyScanner: Sendable {
    public var sysfsRoot: String
    public var cmdlinePath: String?
    /// The pci.ids database for device names; ids alone when it is not installed.
    public var pciIDsPaths: [String]

    public static let defaultPCIIDs = ["/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids"]

    public init(sysfsRoot: String, cmdlinePath: String? = nil, pciIDsPaths: [String] = TopologyScanner.defaultPCIIDs) {
        self.sysfsRoot = sysfsRoot
        self.cmdlinePath = cmdlinePath
        self.pciIDsPaths = pciIDsPaths
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
        nameDevices(&t)
        mapInterruptsThroughKernelIRQ(&t)
        mapStreamIDs(&t)
        return t
    }

    /// Names from pci.ids for the devices present (only their ids are looked up).
    func nameDevices(_ t: inout Topology) {
        guard let path = pciIDsPaths.first(where: { fileExists($0) }) else { return }
        var ids: Set<PCIID> = []
        for d in t.devices.values {
            if let v = d.vendorID, let dev = d.deviceID { ids.insert(PCIID(vendor: v, device: dev)) }
        }
        guard !ids.isEmpty, let text = try? readSmallFile(path, limit: 16 << 20) else { return }
        let names = PCIIDs.names(for: ids, in: text)
        for (addr, d) in t.devices {
            if let v = d.vendorID, let dev = d.deviceID { t.devices[addr]!.name = names[PCIID(vendor: v, device: dev)] }
        }
    }

    /// Units whose own device lists no msi_irqs (wired SMMU interrupts, AMD in some modes):
    /// /sys/kernel/irq/N/actions names the vector; with one unit of that vendor it is that
    /// unit's. With several, the IRQ stays unattributed (`ambiguous`) rather than guessed.
    func mapInterruptsThroughKernelIRQ(_ t: inout Topology) {
        let base = "\(sysfsRoot)/kernel/irq"
        for irqName in listDirectory(base) {
            guard let irq = UInt32(irqName), let actions = try? readSmallFile("\(base)/\(irqName)/actions") else {
                continue
            }
            for action in actions.trimmingCharacters().split(separator: ",") {
                guard let v = IOMMUVector(action: String(action).trimmingCharacters()), v.unit == nil else { continue }
                if t.units.values.contains(where: { $0.irqs.contains(irq) }) { continue }
                let same = t.units.values.filter { $0.vendor == v.vendor }
                if same.count == 1 { t.units[same[0].name]!.irqs.append(irq) }
            }
        }
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
        } else if name.hasPrefix("riscv-iommu@") {
            // riscv_iommu_init(): iommu_device_sysfs_add(…, NULL, NULL, "riscv-iommu@%s", dev_name()).
            u = Topology.Unit(name: name, vendor: .riscvIOMMU)
            u.aliases = [String(name.dropFirst("riscv-iommu@".count))]
        } else if let (vendor, aliases) = familyOfUnitDevice("\(dir)/device") {
            // A §11 driver: named after its device (`ff8f3f00.iommu`, virtio-iommu's PCI function).
            u = Topology.Unit(name: name, vendor: vendor)
            u.aliases = aliases
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

    /// The family whose driver the unit's device is bound to — or one of its children, as
    /// virtio-iommu's `virtioN` under its PCI function and qcom_iommu's context banks — and the
    /// names of those children (the names the family's log lines give the unit).
    func familyOfUnitDevice(_ device: String) -> (Vendor, [String])? {
        let catalog = FamilyCatalog.standard
        var vendor = readLink("\(device)/driver").map(basename).flatMap { catalog.vendor(ofDriver: $0) }
        var aliases: [String] = []
        for child in listDirectory(device).sorted().prefix(256) {
            guard let driver = readLink("\(device)/\(child)/driver").map(basename),
                let v = catalog.vendor(ofDriver: driver), vendor == nil || vendor == v
            else { continue }
            vendor = v
            aliases.append(child)
        }
        return vendor.map { ($0, aliases) }
    }
}
