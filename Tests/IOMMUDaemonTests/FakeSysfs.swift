import Foundation
import IOMMUCore

/// Builds a fake sysfs tree the way the kernel lays it out (kernel-formats.md §7): the class
/// links, the devices with their `iommu`, `iommu_group` and `driver` links, the groups with
/// their `devices/` links, the units' attributes and `msi_irqs/`, /sys/kernel/irq/N/actions.
/// Platforms are built from the real 6.1 listings where we have them (Tests/qemu captures).
final class FakeSysfs {
    let root: String
    let fm = FileManager.default

    init(root: String) {
        self.root = root
        try? fm.createDirectory(atPath: root + "/class/iommu", withIntermediateDirectories: true)
        try? fm.createDirectory(atPath: root + "/kernel/iommu_groups", withIntermediateDirectories: true)
        try? fm.createDirectory(atPath: root + "/bus/pci/devices", withIntermediateDirectories: true)
        try? fm.createDirectory(atPath: root + "/kernel/irq", withIntermediateDirectories: true)
    }

    func write(_ rel: String, _ text: String) {
        let p = root + "/" + rel
        try? fm.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        _ = fm.createFile(atPath: p, contents: Data((text + "\n").utf8))
    }

    /// A binary file (an ACPI table).
    func writeRaw(_ rel: String, _ bytes: [UInt8]) {
        let p = root + "/" + rel
        try? fm.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try? fm.removeItem(atPath: p)
        _ = fm.createFile(atPath: p, contents: Data(bytes))
    }

    /// A device-tree property: big-endian u32 cells.
    func writeBytes(_ rel: String, cells: [UInt32]) {
        let p = root + "/" + rel
        try? fm.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let bytes = cells.flatMap { c in [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: c >> $0) } }
        try? fm.removeItem(atPath: p)
        _ = fm.createFile(atPath: p, contents: Data(bytes))
    }

    func link(_ rel: String, to target: String) {
        let p = root + "/" + rel
        try? fm.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try? fm.createSymbolicLink(atPath: p, withDestinationPath: target)
    }

    /// Where a unit's device directory lives, relative to the root.
    func unitDir(_ name: String, vendor: Vendor, device: String?) -> String {
        switch vendor {
        case .intel: return "devices/virtual/iommu/\(name)"
        case .amd: return "devices/pci0000:00/\(device!)/iommu/\(name)"
        default: return "devices/platform/\(device!)/iommu/\(name)"
        }
    }

    /// A remapping unit. `device` is AMD's IOMMU PCI function or the SMMU's platform device.
    @discardableResult
    func unit(
        _ name: String, vendor: Vendor, device: String? = nil, attributes: [String: String] = [:], msiIRQs: [Int] = []
    ) -> FakeSysfs {
        let dir = unitDir(name, vendor: vendor, device: device)
        link("class/iommu/\(name)", to: "../../\(dir)")
        let sub = vendor == .intel ? "intel-iommu" : vendor == .amd ? "amd-iommu" : nil
        for (k, v) in attributes { write("\(dir)/\(sub.map { $0 + "/" } ?? "")\(k)", v) }
        try? fm.createDirectory(atPath: root + "/\(dir)/devices", withIntermediateDirectories: true)
        if let device {
            let devDir = vendor == .amd ? "devices/pci0000:00/\(device)" : "devices/platform/\(device)"
            link("\(dir)/device", to: "../../../\(device)")
            for irq in msiIRQs { write("\(devDir)/msi_irqs/\(irq)", "msi") }
        }
        return self
    }

    /// A PCI function behind `unit` (nil: not translated) in `group`.
    @discardableResult
    func device(
        _ bdf: String, vendorID: String, deviceID: String, classID: String = "0x000000", driver: String? = nil,
        unit: String? = nil, unitVendor: Vendor = .intel, unitDevice: String? = nil, group: Int? = nil
    ) -> FakeSysfs {
        let dir = "devices/pci0000:\(bdf.prefix(4).suffix(2))/\(bdf)"
        link("bus/pci/devices/\(bdf)", to: "../../../\(dir)")
        write("\(dir)/vendor", vendorID)
        write("\(dir)/device", deviceID)
        write("\(dir)/class", classID)
        if let driver { link("\(dir)/driver", to: "../../../bus/pci/drivers/\(driver)") }
        if let unit {
            let u = unitDir(unit, vendor: unitVendor, device: unitDevice)
            link("\(dir)/iommu", to: "../../../\(u)")
            link("\(u)/devices/\(bdf)", to: "../../../../\(dir)")
        }
        if let group {
            link("\(dir)/iommu_group", to: "../../../kernel/iommu_groups/\(group)")
            link("kernel/iommu_groups/\(group)/devices/\(bdf)", to: "../../../../\(dir)")
        }
        return self
    }

    @discardableResult
    func group(_ id: Int, type: String) -> FakeSysfs {
        write("kernel/iommu_groups/\(id)/type", type)
        try? fm.createDirectory(atPath: root + "/kernel/iommu_groups/\(id)/devices", withIntermediateDirectories: true)
        return self
    }

    @discardableResult
    func irq(_ n: Int, actions: String) -> FakeSysfs {
        write("kernel/irq/\(n)/actions", actions)
        return self
    }

    func remove(device bdf: String) {
        try? fm.removeItem(atPath: root + "/bus/pci/devices/\(bdf)")
    }
}

/// The platforms of the topology tests: each a folder under Fixtures/platforms/ — a fake
/// sysfs (`sys/`), `/proc/interrupts`, the kernel command line and a kmsg capture — with golden
/// `status` and `/metrics` outputs in Fixtures/golden/.
///
/// * `intel-qemu`: the real 6.1 guest of Tests/qemu: one dmar unit, edu at 00:01.0.
/// * `intel-server`: a 2-socket server, 8 DMAR units over two PCI segments, ~200 functions, a
///   NIC passed to a guest (vfio-pci), and one bus:dev.fn that exists on both segments.
/// * `amd-server`: two AMD-Vi units whose interrupts share the `AMD-Vi` action name (MSI mode,
///   before 6.6), told apart by each unit's PCI function's msi_irqs/; a third vector nobody
///   claims is ambiguous.
/// * `smmuv3-qemu`: QEMU's arm64 virt machine with SMMUv3, edu bound to pci-stub.
/// * `no-iommu`: a plain VM, PCI devices and no remapping unit.
/// * `passthrough`: Intel with `iommu=pt`, every group's default domain identity.
struct Platform: Sendable {
    var name: String

    static let all: [Platform] = ["intel-qemu", "intel-server", "amd-server", "smmuv3-qemu", "no-iommu", "passthrough"]
        .map(Platform.init)

    static let intelQEMU = Platform(name: "intel-qemu")
    static let intelServer = Platform(name: "intel-server")
    static let amdServer = Platform(name: "amd-server")
    static let smmuv3QEMU = Platform(name: "smmuv3-qemu")
    static let noIOMMU = Platform(name: "no-iommu")
    static let passthrough = Platform(name: "passthrough")

    var folder: String { fixturesRoot + "/platforms/" + name }
    var kmsg: String { readTestFile(folder + "/kmsg") }
}

extension String {
    func leftPadded(_ n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
}
