/// One expected-fault rule (`[[expected]]` in iommud.toml): a fault known to be harmless on this
/// platform — a BMC's USB controller touching an RMRR region at boot, a NIC's firmware probe.
/// A fault that meets every criterion the rule gives (AND; each criterion that lists several
/// values is met by any of them) is *expected*: it is still counted, exactly, but apart
/// (`iommu_expected_faults_total`, the ledger's `expected`), journaled at a lower priority, runs
/// no `on_fault` action, starts no storm, and `status` lists it under the rule's name.
public struct ExpectedRule: Sendable, Equatable {
    /// A device as a rule names it: a PCI function, or a non-PCI master by its kernel name
    /// (`ff8f0000.vop`), as the fault's `device` label shows it.
    public enum Device: Sendable, Hashable, CustomStringConvertible {
        case pci(PCIAddress)
        case master(String)

        public var description: String {
            switch self {
            case .pci(let a): return a.description
            case .master(let m): return m
            }
        }
    }

    /// A PCI vendor:device id (sysfs `vendor` and `device`): it survives renumbering.
    public struct PCIID: Sendable, Hashable, CustomStringConvertible {
        public var vendor: UInt16
        public var device: UInt16

        public init(vendor: UInt16, device: UInt16) {
            self.vendor = vendor
            self.device = device
        }

        /// `8086:1533`.
        public var description: String { hex(UInt64(vendor), width: 4) + ":" + hex(UInt64(device), width: 4) }

        /// The id sysfs gives a device (`vendor` = `0x8086`, `device` = `0x1533`), if it has both.
        public init?(_ d: Topology.Device) {
            guard let v = d.vendorID.flatMap(Self.sysfsHex), let dev = d.deviceID.flatMap(Self.sysfsHex) else {
                return nil
            }
            self.init(vendor: v, device: dev)
        }

        static func sysfsHex(_ s: String) -> UInt16? {
            var t = s[...]
            if t.hasPrefix("0x") || t.hasPrefix("0X") { t = t.dropFirst(2) }
            guard (1...4).contains(t.utf8.count) else { return nil }
            return UInt16(t, radix: 16)
        }
    }

    /// A reason by its code (`0x06`, as the `reason` label writes it) or by its text as the
    /// kernel prints it (`PTE Read access is not set`, compared ignoring ASCII case).
    public enum Reason: Sendable, Hashable, CustomStringConvertible {
        case code(UInt16)
        case text(String)

        public var description: String {
            switch self {
            case .code(let c): return hex0x(UInt64(c), width: 2)
            case .text(let t): return t
            }
        }
    }

    /// The rule's name: the `rule` label, the journal's `IOMMUD_EXPECTED_RULE`, `status`.
    public var name: String
    public var devices: [Device] = []
    public var pciIDs: [PCIID] = []
    /// The device's driver: sysfs's, else the one the line names.
    public var drivers: [String] = []
    public var vendors: [Vendor] = []
    public var kinds: [FaultKind] = []
    public var reasons: [Reason] = []
    /// The fault address, inclusive at both ends.
    public var address: ClosedRange<UInt64>?
    /// Time since boot of the fault (its kmsg timestamp, µs, monotonic), inclusive at both ends.
    public var bootWindowUsec: ClosedRange<UInt64>?

    public init(name: String) { self.name = name }

    /// A rule with no criterion would match every fault: the config refuses it.
    public var hasCriteria: Bool {
        !devices.isEmpty || !pciIDs.isEmpty || !drivers.isEmpty || !vendors.isEmpty || !kinds.isEmpty
            || !reasons.isEmpty || address != nil || bootWindowUsec != nil
    }

    /// Whether `f` (attributed: its device and unit resolved) meets every criterion. `device`
    /// is what sysfs knows of the fault's device (its ids and driver), nil when nothing.
    /// A criterion the fault cannot show (no address, no timestamp, a device sysfs does not
    /// know) is not met.
    public func matches(_ f: Fault, device: Topology.Device?) -> Bool {
        matches(f, device: device, id: device.flatMap(PCIID.init))
    }

    /// The same, with the device's id read once for all rules. The criteria are tried from the
    /// cheapest and most selective (integers) to string comparisons.
    func matches(_ f: Fault, device: Topology.Device?, id: PCIID?) -> Bool {
        if !devices.isEmpty {
            let met = devices.contains { d in
                switch d {
                case .pci(let a): return f.device == a
                case .master(let m): return f.device == nil && f.master == m
                }
            }
            if !met { return false }
        }
        if !pciIDs.isEmpty {
            guard let id, pciIDs.contains(id) else { return false }
        }
        if let r = address {
            guard let a = f.address, r.contains(a) else { return false }
        }
        if let w = bootWindowUsec {
            guard let ts = f.timestampUsec, w.contains(ts) else { return false }
        }
        if !vendors.isEmpty && !vendors.contains(f.vendor) { return false }
        if !reasons.isEmpty {
            let met = reasons.contains { r in
                switch r {
                case .code(let c): return f.reason == c
                case .text(let t): return f.reasonText.map { Self.sameIgnoringASCIICase($0, t) } ?? false
                }
            }
            if !met { return false }
        }
        if !kinds.isEmpty && !kinds.contains(f.kind) { return false }
        if !drivers.isEmpty {
            guard let driver = device?.driver ?? f.driver, drivers.contains(driver) else { return false }
        }
        return true
    }

    static func sameIgnoringASCIICase(_ a: String, _ b: String) -> Bool {
        a.utf8.count == b.utf8.count
            && zip(a.utf8, b.utf8).allSatisfy { x, y in
                x == y || (x | 0x20 == y | 0x20 && (x | 0x20) >= 0x61 && (x | 0x20) <= 0x7a)
            }
    }
}

/// The expected-fault rules of the running configuration, in the order of the file: the first
/// rule a fault meets is the one it is counted under.
public struct ExpectedRules: Sendable, Equatable {
    /// At most this many rules (each is a `rule` label value of a few series, and every fault
    /// is checked against them in order).
    public static let maxRules = 256
    /// At most this many values in one criterion's list.
    public static let maxValues = 64
    /// A rule's name: 1 to 64 bytes of `A-Z a-z 0-9 _ . -`.
    public static let maxNameBytes = 64

    public private(set) var rules: [ExpectedRule] = []

    public init() {}

    /// The first `maxRules` of `rules` (the config refuses more, naming the line).
    public init(_ rules: [ExpectedRule]) { self.rules = Array(rules.prefix(Self.maxRules)) }

    public var isEmpty: Bool { rules.isEmpty }
    public var names: [String] { rules.map(\.name) }

    /// The first rule `f` meets, with the topology's knowledge of its device.
    public func firstMatch(_ f: Fault, topology: Topology) -> ExpectedRule? {
        guard !rules.isEmpty else { return nil }
        let device = f.device.flatMap { topology.devices[$0] }
        let id = device.flatMap(ExpectedRule.PCIID.init)
        return rules.first { $0.matches(f, device: device, id: id) }
    }

    /// Whether `name` can be a rule's name (and so a label value, a journal field value).
    public static func isValidName(_ name: some StringProtocol) -> Bool {
        (1...maxNameBytes).contains(name.utf8.count)
            && name.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x5f
                    || c == 0x2e || c == 0x2d
            }
    }
}
