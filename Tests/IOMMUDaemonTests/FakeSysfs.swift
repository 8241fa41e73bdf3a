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

/// The platforms of the topology tests: each a fake sysfs, a /proc/interrupts, a command line
/// and a kmsg capture, with golden `status` and `/metrics` outputs.
struct Platform: Sendable {
    var name: String
    var build: @Sendable (FakeSysfs) -> Void
    var interrupts: String
    var cmdline: String
    var kmsg: String

    static let all: [Platform] = [intelQEMU, intelServer, amdServer, smmuv3QEMU, noIOMMU, passthrough]

    /// The real 6.1 guest of Tests/qemu: one dmar unit, edu at 00:01.0 (Tests/qemu/fixtures).
    static let intelQEMU = Platform(
        name: "intel-qemu",
        build: { s in
            s.unit(
                "dmar0", vendor: .intel,
                attributes: ["cap": "d2008c22260206", "ecap": "f00f4a", "version": "1:0", "address": "fed90000"])
            s.group(0, type: "DMA").group(1, type: "DMA").group(2, type: "DMA")
            s.device(
                "0000:00:00.0", vendorID: "0x8086", deviceID: "0x29c0", classID: "0x060000", unit: "dmar0", group: 0)
            s.device(
                "0000:00:01.0", vendorID: "0x1234", deviceID: "0x11e8", classID: "0x00ff00", unit: "dmar0", group: 1)
            s.device(
                "0000:00:1f.0", vendorID: "0x8086", deviceID: "0x2918", classID: "0x060100", driver: "lpc_ich",
                unit: "dmar0", group: 2)
            s.device(
                "0000:00:1f.2", vendorID: "0x8086", deviceID: "0x2922", classID: "0x010601", driver: "ahci",
                unit: "dmar0", group: 2)
            s.device(
                "0000:00:1f.3", vendorID: "0x8086", deviceID: "0x2930", classID: "0x0c0500", driver: "i801_smbus",
                unit: "dmar0", group: 2)
        },
        interrupts: """
                       CPU0       CPU1
              0:         96          0  IR-IO-APIC   2-edge      timer
             24:          7          0  DMAR-MSI   0-edge      dmar0
            NMI:          0          0   Non-maskable interrupts
            ERR:          0
            MIS:          0
            """,
        cmdline: "console=ttyS0 quiet loglevel=4 panic=-1 intel_iommu=on iommu.strict=1",
        kmsg: """
            3,377,5395204,-;DMAR: DRHD: handling fault status reg 2
            3,378,5395913,-;DMAR: [DMA Read NO_PASID] Request device [00:01.0] fault addr 0x1000 [fault reason 0x06] PTE Read access is not set
            3,379,6074032,-;DMAR: DRHD: handling fault status reg 2
            3,380,6074242,-;DMAR: [DMA Write NO_PASID] Request device [00:01.0] fault addr 0xdead0000 [fault reason 0x05] PTE Write access is not set
            3,381,6780053,-;DMAR: DRHD: handling fault status reg 2
            3,382,6780297,-;DMAR: [DMA Read NO_PASID] Request device [00:01.0] fault addr 0xdead0000 [fault reason 0x06] PTE Read access is not set
            3,383,7584013,-;DMAR: DRHD: handling fault status reg 2
            4,384,13835291,-;dmar_fault: 2 callbacks suppressed
            3,385,13835600,-;DMAR: DRHD: handling fault status reg 2
            3,386,13835892,-;DMAR: [DMA Read NO_PASID] Request device [00:01.0] fault addr 0x2000 [fault reason 0x06] PTE Read access is not set

            """)

    /// A 2-socket Intel server: 8 DMAR units over two PCI segments, ~200 functions, a NIC passed
    /// to a guest (vfio-pci), and one bus:dev.fn that exists on both segments.
    static let intelServer = Platform(
        name: "intel-server",
        build: { s in
            for u in 0..<8 {
                s.unit(
                    "dmar\(u)", vendor: .intel,
                    attributes: [
                        "cap": "8d2078c106f0466", "ecap": "f020df", "version": "1:0",
                        "address": String(0xd37f_c000 + u * 0x100000, radix: 16),
                    ])
            }
            var group = 0
            for seg in 0..<2 {
                for bus in stride(from: 0x10, to: 0x10 + 4 * 0x20, by: 0x20) {
                    for dev in 0..<6 {
                        for fn in 0..<4 {
                            let unit = seg * 4 + (bus - 0x10) / 0x20
                            let bdf =
                                "000\(seg):\(String(bus, radix: 16)):\(String(dev, radix: 16).leftPadded(2)).\(fn)"
                            s.group(group, type: "DMA-FQ")
                            s.device(
                                bdf, vendorID: "0x8086", deviceID: "0x1592", classID: "0x020000", driver: "ice",
                                unit: "dmar\(unit)", group: group)
                            group += 1
                        }
                    }
                }
            }
            // An NVMe drive, and a NIC passed through to a guest.
            s.group(500, type: "DMA-FQ").group(501, type: "DMA")
            s.device(
                "0000:03:00.0", vendorID: "0x144d", deviceID: "0xa808", classID: "0x010802", driver: "nvme",
                unit: "dmar0", group: 500)
            s.device(
                "0001:81:00.0", vendorID: "0x8086", deviceID: "0x10d3", classID: "0x020000", driver: "vfio-pci",
                unit: "dmar4", group: 501)
        },
        interrupts: """
                       CPU0       CPU1       CPU2       CPU3
             40:          0          0          0          0  DMAR-MSI   0-edge      dmar0
             41:          0          2          0          0  DMAR-MSI   1-edge      dmar1
             42:          0          0          0          0  DMAR-MSI   2-edge      dmar2
             43:          0          0          0          0  DMAR-MSI   3-edge      dmar3
             44:          3          0          0          0  DMAR-MSI   4-edge      dmar4
             45:          0          0          0          0  DMAR-MSI   5-edge      dmar5
             46:          0          0          0          0  DMAR-MSI   6-edge      dmar6
             47:          0          0          0          0  DMAR-MSI   7-edge      dmar7
             48:          0          0          0          0  DMAR-MSI  20-edge      dmar0-prq
            """,
        cmdline: "BOOT_IMAGE=/vmlinuz root=/dev/sda1 intel_iommu=on",
        kmsg: """
            3,1000,900000000,-;DMAR: [DMA Write NO_PASID] Request device [03:00.0] fault addr 0xfffff000 [fault reason 0x05] PTE Write access is not set
            3,1001,900000100,-;DMAR: [DMA Read NO_PASID] Request device [81:00.0] fault addr 0x7f000000 [fault reason 0x06] PTE Read access is not set
            3,1002,900000200,-;DMAR: [DMA Read NO_PASID] Request device [81:00.0] fault addr 0x7f001000 [fault reason 0x06] PTE Read access is not set
            3,1003,900000300,-;DMAR: [DMA Read NO_PASID] Request device [30:01.2] fault addr 0x1000 [fault reason 0x06] PTE Read access is not set
            3,1004,900000400,-;DMAR: [INTR-REMAP] Request device [f0:1f.0] fault index 0x1a [fault reason 0x25] Blocked a compatibility format interrupt request

            """)

    /// Two AMD-Vi units whose interrupts share the `AMD-Vi` action name (MSI mode, before 6.6):
    /// told apart by each unit's PCI function's msi_irqs/; a third vector nobody claims is ambiguous.
    static let amdServer = Platform(
        name: "amd-server",
        build: { s in
            s.unit(
                "ivhd0", vendor: .amd, device: "0000:00:00.2", attributes: ["cap": "1f03000f", "features": "0:29d3"],
                msiIRQs: [25])
            s.unit(
                "ivhd1", vendor: .amd, device: "0000:40:00.2", attributes: ["cap": "1f03000f", "features": "0:29d3"],
                msiIRQs: [26])
            s.group(0, type: "DMA").group(1, type: "DMA").group(2, type: "DMA")
            s.device("0000:00:00.2", vendorID: "0x1022", deviceID: "0x1481", classID: "0x080600")
            s.device("0000:40:00.2", vendorID: "0x1022", deviceID: "0x1481", classID: "0x080600")
            s.device(
                "0000:06:00.0", vendorID: "0x10de", deviceID: "0x1eb8", classID: "0x030000", driver: "nvidia",
                unit: "ivhd0", unitVendor: .amd, unitDevice: "0000:00:00.2", group: 0)
            s.device(
                "0000:41:00.0", vendorID: "0x15b3", deviceID: "0x1017", classID: "0x020000", driver: "mlx5_core",
                unit: "ivhd1", unitVendor: .amd, unitDevice: "0000:40:00.2", group: 1)
            s.device(
                "0000:42:00.0", vendorID: "0x144d", deviceID: "0xa808", classID: "0x010802", driver: "nvme",
                unit: "ivhd1", unitVendor: .amd, unitDevice: "0000:40:00.2", group: 2)
        },
        interrupts: """
                       CPU0       CPU1
             25:          0         12   PCI-MSI 4096-edge      AMD-Vi
             26:          3          0   PCI-MSI 266240-edge      AMD-Vi
             27:          1          0   PCI-MSI 532480-edge      AMD-Vi
            """,
        cmdline: "BOOT_IMAGE=/vmlinuz root=/dev/nvme0n1p2 iommu=nopt",
        kmsg: """
            3,2210,120034567,-;nvidia 0000:06:00.0: AMD-Vi: Event logged [IO_PAGE_FAULT domain=0x0000 address=0xfc189000 flags=0x0000]
             SUBSYSTEM=pci
             DEVICE=+pci:0000:06:00.0
            3,2211,120034600,-;nvidia 0000:06:00.0: AMD-Vi: Event logged [IO_PAGE_FAULT domain=0x0000 address=0xfc18a000 flags=0x0020]
             SUBSYSTEM=pci
             DEVICE=+pci:0000:06:00.0
            3,2299,120099000,-;iommu ivhd1: AMD-Vi: Event logged [IOTLB_INV_TIMEOUT device=0000:41:00.0 address=0x1f7a3c000]
             SUBSYSTEM=iommu
             DEVICE=+iommu:ivhd1
            4,2300,120100000,-;amd_iommu_report_page_fault: 96 callbacks suppressed

            """)

    /// QEMU's arm64 virt machine with SMMUv3 (Tests/qemu smmuv3 capture): edu bound to pci-stub.
    static let smmuv3QEMU = Platform(
        name: "smmuv3-qemu",
        build: { s in
            s.unit("smmu3.0x0000000009050000", vendor: .armSMMUv3, device: "9050000.smmuv3")
            s.group(0, type: "DMA")
            s.device("0000:00:00.0", vendorID: "0x1b36", deviceID: "0x0008", classID: "0x060000")
            s.device(
                "0000:00:01.0", vendorID: "0x1234", deviceID: "0x11e8", classID: "0x00ff00", driver: "pci-stub",
                unit: "smmu3.0x0000000009050000", unitVendor: .armSMMUv3, unitDevice: "9050000.smmuv3", group: 0)
            s.irq(16, actions: "arm-smmu-v3-evtq").irq(18, actions: "arm-smmu-v3-gerror")
        },
        interrupts: """
                       CPU0       CPU1
             11:        924        873 GIC-0  27 Level     arch_timer
             16:          5          0 GIC-0 106 Edge      arm-smmu-v3-evtq
             18:          0          0 GIC-0 109 Edge      arm-smmu-v3-gerror
            IPI0:        92         62       Rescheduling interrupts
            Err:          0
            """,
        cmdline: "console=ttyAMA0 quiet loglevel=4 panic=-1 iommu.strict=1",
        kmsg: """
            6,243,4180527,-;arm-smmu-v3 9050000.smmuv3: event 0x10 received:
             SUBSYSTEM=platform
             DEVICE=+platform:9050000.smmuv3
            6,244,4180597,-;arm-smmu-v3 9050000.smmuv3: \\x090x0000000800000010
            6,245,4180618,-;arm-smmu-v3 9050000.smmuv3: \\x090x0000000800000000
            6,246,4180675,-;arm-smmu-v3 9050000.smmuv3: \\x090x0000000000001000
            6,247,4180682,-;arm-smmu-v3 9050000.smmuv3: \\x090x0000000000000000
            6,248,4634597,-;arm-smmu-v3 9050000.smmuv3: event 0x10 received:
            6,249,4634661,-;arm-smmu-v3 9050000.smmuv3: \\x090x0000000800000010
            6,250,4634672,-;arm-smmu-v3 9050000.smmuv3: \\x090x0000000000000000
            6,251,4634679,-;arm-smmu-v3 9050000.smmuv3: \\x090x00000000dead0000
            6,252,4634686,-;arm-smmu-v3 9050000.smmuv3: \\x090x0000000000000000

            """)

    /// A plain VM: PCI devices, no remapping unit.
    static let noIOMMU = Platform(
        name: "no-iommu",
        build: { s in
            s.device("0000:00:00.0", vendorID: "0x8086", deviceID: "0x1237", classID: "0x060000")
            s.device("0000:00:03.0", vendorID: "0x1af4", deviceID: "0x1000", classID: "0x020000", driver: "virtio-pci")
        },
        interrupts: """
                       CPU0       CPU1
              0:         40          0   IO-APIC   2-edge      timer
            """,
        cmdline: "root=/dev/vda1 console=ttyS0",
        kmsg: "6,1,1000,-;Linux version 6.1.0-56-amd64\n")

    /// Intel with `iommu=pt`: every group's default domain is identity (Tests/qemu passthrough).
    static let passthrough = Platform(
        name: "passthrough",
        build: { s in
            s.unit("dmar0", vendor: .intel, attributes: ["cap": "d2008c22260206", "ecap": "f00f4a", "version": "1:0"])
            s.group(0, type: "identity").group(1, type: "identity")
            s.device(
                "0000:00:00.0", vendorID: "0x8086", deviceID: "0x29c0", classID: "0x060000", unit: "dmar0", group: 0)
            s.device(
                "0000:00:01.0", vendorID: "0x1234", deviceID: "0x11e8", classID: "0x00ff00", unit: "dmar0", group: 1)
        },
        interrupts: """
                       CPU0       CPU1
             24:          0          0  DMAR-MSI   0-edge      dmar0
            """,
        cmdline: "console=ttyS0 intel_iommu=on iommu=pt",
        kmsg: "6,1,1000,-;DMAR: IOMMU enabled\n")
}

extension String {
    func leftPadded(_ n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
}
