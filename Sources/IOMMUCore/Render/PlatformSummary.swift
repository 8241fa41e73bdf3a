/// IOMMU on / off / passthrough, and why — from sysfs (units, group default-domain types), the
/// kernel command line and the boot inventory lines.
public struct PlatformSummary: Sendable, Equatable {
    /// The contract's `iommu_mode_info{mode}`: translated, passthrough, off, unknown.
    public var mode: String
    public var why: String
    public var vendors: [Vendor]
    public var units: Int
    public var groups: Int
    public var devices: Int
    public var interruptRemapping: String?
    public var rmrr: [(start: UInt64, end: UInt64)]

    public var enabled: Bool { mode == "translated" || mode == "passthrough" }

    public static func == (l: Self, r: Self) -> Bool {
        l.mode == r.mode && l.why == r.why && l.vendors == r.vendors && l.units == r.units && l.groups == r.groups
            && l.devices == r.devices && l.interruptRemapping == r.interruptRemapping
            && l.rmrr.map(\.start) == r.rmrr.map(\.start) && l.rmrr.map(\.end) == r.rmrr.map(\.end)
    }

    /// Kernel command-line switches that decide the mode (Documentation/admin-guide/kernel-parameters.txt).
    public struct CommandLineHints: Sendable, Equatable {
        public var off: String?
        public var passthrough: String?
        public var translated: String?

        public init(_ cmdline: String?) {
            guard let cmdline else { return }
            for token in cmdline.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }) {
                let t = String(token)
                switch t {
                case "iommu=pt", "iommu.passthrough=1", "iommu.passthrough=y", "iommu.passthrough=on":
                    passthrough = t
                case "iommu=off", "amd_iommu=off", "intel_iommu=off":
                    off = t
                case "iommu=nopt", "iommu.passthrough=0", "iommu.passthrough=n", "iommu.passthrough=off":
                    translated = t
                default:
                    if t.hasPrefix("intel_iommu=") && t.dropFirst(12).split(separator: ",").contains("off") { off = t }
                    if t.hasPrefix("intel_iommu=") && t.dropFirst(12).split(separator: ",").contains("pt") {
                        passthrough = t
                    }
                }
            }
        }
    }

    public init(topology: Topology, inventory: [InventoryItem]) {
        var cmdline = topology.commandLine
        var ir: String?
        var rmrr: [(UInt64, UInt64)] = []
        var enabledBy: Vendor?
        for item in inventory {
            switch item {
            case .commandLine(let c): if cmdline == nil { cmdline = c }
            case .interruptRemapping(let m): ir = m
            case .rmrr(let s, let e): rmrr.append((s, e))
            case .iommuEnabled(let v): enabledBy = v
            default: break
            }
        }
        let hints = CommandLineHints(cmdline)
        let units = topology.sortedUnits
        self.vendors = Array(Set(units.map(\.vendor))).sorted()
        self.units = units.count
        self.groups = topology.groups.count
        self.devices = topology.devices.values.filter { !$0.gone && $0.unit != nil }.count
        self.interruptRemapping = ir
        self.rmrr = rmrr
        let types = topology.groups.values.compactMap(\.type)
        if topology.scanned && units.isEmpty {
            mode = "off"
            why =
                hints.off.map { "the kernel command line says \($0)" }
                ?? "no remapping units in /sys/class/iommu (no IOMMU, disabled in firmware, or not enabled by the kernel)"
        } else if !types.isEmpty && types.allSatisfy({ $0 == "identity" }) {
            mode = "passthrough"
            why = "every IOMMU group's default domain is identity" + (hints.passthrough.map { " (\($0))" } ?? "")
        } else if types.contains(where: { $0.hasPrefix("DMA") }) {
            mode = "translated"
            let t = types.contains("DMA-FQ") ? "DMA-FQ" : "DMA"
            why = "IOMMU groups use \(t) default domains" + (hints.translated.map { " (\($0))" } ?? "")
        } else if let p = hints.passthrough {
            mode = "passthrough"
            why = "the kernel command line says \(p)"
        } else if let o = hints.off {
            mode = "off"
            why = "the kernel command line says \(o)"
        } else if !units.isEmpty {
            mode = "translated"
            why = "remapping units present; group default-domain types unknown (kernel before 5.11)"
        } else if let v = enabledBy {
            mode = "translated"
            why = "the boot log says the \(v.rawValue) IOMMU is enabled"
        } else {
            mode = "unknown"
            why = "no sysfs view and no boot inventory lines"
        }
    }

    /// Advice shown when there is nothing to watch.
    public static let enableAdvice =
        "This machine has no active IOMMU, so there are no DMA-remapping faults to watch. To enable it: "
        + "Intel — turn on VT-d in the BIOS/UEFI and boot with intel_iommu=on; AMD — turn on AMD-Vi/IOMMU in "
        + "the BIOS/UEFI (the kernel enables it by default; check for amd_iommu=off); ARM — describe the SMMU "
        + "in the device tree or IORT. A plain virtual machine usually has none unless the hypervisor emulates one "
        + "(QEMU: -device intel-iommu)."
}
