/// The platform as sysfs describes it: remapping units, the devices behind them, IOMMU groups.
/// Built by `TopologyScanner` (I/O, in the daemon); pure here so attribution is testable with
/// fake trees (kernel-formats.md §7).
public struct Topology: Sendable, Equatable {
    /// The unit label of a fault whose device sits behind several units (no one unit to blame).
    public static let ambiguousUnit = "ambiguous"

    public struct Unit: Sendable, Equatable {
        /// sysfs name: dmarN, ivhdN, smmu3.0x…, smmu.0x….
        public var name: String
        public var vendor: Vendor
        public var version: String?
        public var cap: String?
        public var ecap: String?
        public var address: String?
        /// The unit's own device: AMD's IOMMU PCI function, the SMMU platform device
        /// (`9050000.smmuv3`, `arm-smmu-v3.0.auto`) — what SMMU log lines are prefixed with.
        public var platformDevice: String?
        /// IRQ numbers that belong to this unit (from its device's msi_irqs/ or /sys/kernel/irq).
        public var irqs: [UInt32]
        public var devices: [PCIAddress]
        /// Other names the unit's log lines use: virtio-iommu's `virtioN` (a child of the PCI
        /// function that is the unit's device), qcom_iommu's context banks (`1f09000.iommu-ctx`),
        /// the device a `riscv-iommu@<dev>` unit names.
        public var aliases: [String] = []
        /// How the StreamIDs (endpoint ids) of this unit's masters map to PCI requester ids, from
        /// the firmware's tables (DT `iommu-map`, ACPI IORT / VIOT): empty when nothing says.
        public var streamMap: [StreamRange] = []

        public init(
            name: String, vendor: Vendor, version: String? = nil, cap: String? = nil, ecap: String? = nil,
            address: String? = nil, platformDevice: String? = nil, irqs: [UInt32] = [], devices: [PCIAddress] = []
        ) {
            self.name = name
            self.vendor = vendor
            self.version = version
            self.cap = cap
            self.ecap = ecap
            self.address = address
            self.platformDevice = platformDevice
            self.irqs = irqs
            self.devices = devices
        }

        /// Every name a log line may give this unit: its sysfs name, its device's, the aliases.
        public var logNames: [String] { [name] + (platformDevice.map { [$0] } ?? []) + aliases }

        /// Whether the kernel may print this unit as `logName` (one of `logNames`, no array made).
        public func isLogged(as logName: some StringProtocol) -> Bool {
            name == logName || platformDevice.map { $0 == logName } == true || aliases.contains { $0 == logName }
        }
    }

    public struct Device: Sendable, Equatable {
        public var address: PCIAddress
        public var unit: String?
        public var group: Int?
        public var vendorID: String?
        public var deviceID: String?
        public var classID: String?
        public var driver: String?
        /// Human name from pci.ids, when installed.
        public var name: String?
        /// No longer in sysfs (hot-removed); kept so its history reads right.
        public var gone: Bool = false

        public init(
            address: PCIAddress, unit: String? = nil, group: Int? = nil, vendorID: String? = nil,
            deviceID: String? = nil, classID: String? = nil, driver: String? = nil, name: String? = nil
        ) {
            self.address = address
            self.unit = unit
            self.group = group
            self.vendorID = vendorID
            self.deviceID = deviceID
            self.classID = classID
            self.driver = driver
            self.name = name
        }
    }

    public struct Group: Sendable, Equatable {
        public var id: Int
        /// blocked, identity, unmanaged, DMA, DMA-FQ, unknown (v5.11+; nil before).
        public var type: String?
        public var devices: [PCIAddress]

        public init(id: Int, type: String?, devices: [PCIAddress]) {
            self.id = id
            self.type = type
            self.devices = devices
        }
    }

    public var units: [String: Unit] = [:]
    public var devices: [PCIAddress: Device] = [:]
    public var groups: [Int: Group] = [:]
    /// /proc/cmdline, for the mode and its reason.
    public var commandLine: String?
    /// False until a scan succeeded (replay has no topology: attribution then uses only what
    /// the lines say).
    public var scanned: Bool = false

    public init() {}

    public var sortedUnits: [Unit] { units.values.sorted { $0.name.compareNatural($1.name) } }

    /// Fills in what the line did not say: the segment-qualified device and its unit. A fault
    /// that names only a StreamID (SMMU, virtio-iommu endpoint, …) gets a PCI device only where
    /// the firmware's map says which requester id that StreamID is (`Unit.streamMap`: DT
    /// `iommu-map`, ACPI IORT or VIOT) and sysfs shows that device behind that unit; it is then
    /// marked as derived (`deviceAssumed`). Anywhere else — device-tree masters that are no PCI
    /// function, no readable firmware table, no topology at all — no device is invented: the
    /// StreamID stays in `sid`, the device is the master's name when the line prints one.
    public func attribute(_ f: inout Fault) {
        if var dev = f.device {
            // A line without a segment (Intel never prints one, AMD before 6.0) names segment
            // 0000 — unless that bus:dev.fn exists only on another segment. When several segments
            // have it, the line is ambiguous: say so instead of guessing.
            var ambiguous = false
            // (The text is searched only when there is a topology to look in.)
            if scanned && !dev.isPrintedWithSegment(in: f.text) {
                let candidates = devices.values.filter {
                    !$0.gone && $0.address.bus == dev.bus && $0.address.device == dev.device
                        && $0.address.function == dev.function
                }.map(\.address)
                if candidates.count == 1 {
                    dev = candidates[0]
                } else if candidates.count > 1 {
                    ambiguous = true
                }
            }
            f.device = dev
            if let named = f.unit, units[named] != nil { return }
            if ambiguous {
                f.unit = Self.ambiguousUnit
            } else if let u = devices[dev]?.unit {
                f.unit = u
            } else if let u = unitName(forLineUnit: f.unit) {
                f.unit = u
            }
            return
        }
        if let named = unitName(forLineUnit: f.unit) { f.unit = named }
        guard scanned, f.master == nil, let sid = f.sourceID, let name = f.unit, let unit = units[name] else { return }
        for range in unit.streamMap {
            guard let candidate = range.device(for: sid) else { continue }
            if let d = devices[candidate], !d.gone, d.unit == nil || d.unit == name {
                f.device = candidate
                f.deviceAssumed = true
            }
            return
        }
    }

    /// True when the topology has no device at this address (or only a gone one) — a reason to
    /// rescan sysfs (hotplug).
    public func isUnknown(_ dev: PCIAddress) -> Bool {
        guard scanned else { return false }
        if let d = devices[dev] { return d.gone }
        return !devices.keys.contains { $0.bus == dev.bus && $0.device == dev.device && $0.function == dev.function }
    }

    /// This scan plus the devices an earlier scan saw that are gone now, marked so: a removed
    /// device keeps its identity (ids, name, driver, group, last unit) so its history reads right.
    public func carryingGoneDevices(from previous: Topology) -> Topology {
        var t = self
        for (addr, d) in previous.devices where t.devices[addr] == nil {
            var gone = d
            gone.gone = true
            t.devices[addr] = gone
        }
        return t
    }

    /// Maps what a line calls a unit to its sysfs name: sysfs names pass through; an SMMU's
    /// platform device name (`9050000.smmuv3`) maps to `smmu3.0x0000000009050000`.
    public func unitName(forLineUnit name: String?) -> String? {
        guard let name else { return nil }
        if units[name] != nil { return name }
        // Per fault: the first by name of the units logged so, without sorting them all.
        let named = units.values.filter { $0.isLogged(as: name) }.min { $0.name.compareNatural($1.name) }
        return named?.name ?? (scanned ? nil : name)
    }

    /// The unit an IOMMU interrupt belongs to: named in the action (dmarN, AMD-ViN-Evt), else
    /// by its IRQ number from sysfs, else the only unit of that vendor, else `ambiguous`.
    public func unit(forInterrupt irq: UInt32, vector: IOMMUVector) -> String {
        if let u = vector.unit { return u }
        if let u = units.values.first(where: { $0.irqs.contains(irq) }) { return u.name }
        let same = units.values.filter { $0.vendor == vector.vendor }
        if same.count == 1 { return same[0].name }
        return same.isEmpty ? unknownLabel : Self.ambiguousUnit
    }
}

extension String {
    /// `dmar2` < `dmar10`.
    public func compareNatural(_ other: String) -> Bool {
        var a = self[...]
        var b = other[...]
        while let ca = a.first, let cb = b.first {
            if ca.isNumber && cb.isNumber {
                let na = a.prefix { $0.isNumber }
                let nb = b.prefix { $0.isNumber }
                if na.count != nb.count { return na.count < nb.count }
                if na != nb { return na < nb }
                a = a.dropFirst(na.count)
                b = b.dropFirst(nb.count)
            } else {
                if ca != cb { return ca < cb }
                a = a.dropFirst()
                b = b.dropFirst()
            }
        }
        return a.isEmpty && !b.isEmpty
    }
}
