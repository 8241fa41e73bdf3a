/// Which IOMMU fault vector an interrupt action name is (kernel-formats.md §6.2); each family
/// declares its names (`FamilyDescriptor.interrupts`).
public struct IOMMUVector: Sendable, Equatable {
    public var vendor: Vendor
    /// The unit the name itself says (`dmar0`, `ivhd3` for `AMD-Vi3-Evt`), nil when the name is
    /// shared by every unit (`AMD-Vi` before 6.6, all SMMU vectors).
    public var unit: String?
    /// The contract's `vector` label: fault|prq|evt|ppr|ga|shared|evtq|priq|gerror|combined|context|global.
    public var vector: String

    /// The fault vector an action name is, from the families' declarations (nil: not one;
    /// `dmarN-perf` and other perfmon vectors are not).
    public init?(action: String, catalog: FamilyCatalog = .standard) {
        guard let v = catalog.vector(forAction: action) else { return nil }
        self = v
    }

    public init(vendor: Vendor, unit: String?, vector: String) {
        self.vendor = vendor
        self.unit = unit
        self.vector = vector
    }
}

/// One IOMMU vector's counts in one /proc/interrupts sample, already attributed to a unit.
public struct InterruptObservation: Sendable, Equatable {
    public var irq: UInt32
    public var unit: String
    public var vector: String
    public var counts: [String: UInt64]

    public init(irq: UInt32, unit: String, vector: String, counts: [String: UInt64]) {
        self.irq = irq
        self.unit = unit
        self.vector = vector
        self.counts = counts
    }
}

/// Interrupt totals that never go backwards: per (irq, unit, vector) the maximum seen per CPU,
/// so a CPU going offline (its column disappears) does not make the counter drop.
public struct InterruptLedger: Sendable, Equatable {
    public struct Source: Hashable, Sendable, Comparable {
        public var irq: UInt32
        public var unit: String
        public var vector: String

        public static func < (l: Self, r: Self) -> Bool { (l.unit, l.vector, l.irq) < (r.unit, r.vector, r.irq) }
    }

    public internal(set) var perCPUMax: [Source: [String: UInt64]] = [:]

    public init() {}

    public mutating func fold(_ sample: [InterruptObservation]) {
        for o in sample {
            let key = Source(irq: o.irq, unit: o.unit, vector: o.vector)
            var cpus = perCPUMax[key] ?? [:]
            for (cpu, n) in o.counts where n > cpus[cpu] ?? 0 { cpus[cpu] = n }
            perCPUMax[key] = cpus
        }
    }

    /// Per (unit, vector), summed over CPUs and IRQs. Sums saturate: the counts come from a
    /// file, and a forged or corrupt one must not trap the daemon.
    public var totals: [InterruptKey: UInt64] {
        var out: [InterruptKey: UInt64] = [:]
        for (k, cpus) in perCPUMax {
            let key = InterruptKey(unit: k.unit, vector: k.vector)
            out[key] = (out[key] ?? 0).saturatingAdd(cpus.values.saturatingSum())
        }
        return out
    }

    public func total(unit: String) -> UInt64 {
        var n: UInt64 = 0
        for (k, cpus) in perCPUMax where k.unit == unit { n = n.saturatingAdd(cpus.values.saturatingSum()) }
        return n
    }
}
