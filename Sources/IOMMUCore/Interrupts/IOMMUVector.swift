/// Which IOMMU fault vector an interrupt action name is (kernel-formats.md §6.2).
public struct IOMMUVector: Sendable, Equatable {
    public var vendor: Vendor
    /// The unit the name itself says (`dmar0`, `ivhd3` for `AMD-Vi3-Evt`), nil when the name is
    /// shared by every unit (`AMD-Vi` before 6.6, all SMMU vectors).
    public var unit: String?
    /// The contract's `vector` label: fault|prq|evt|ppr|ga|shared|evtq|priq|gerror|combined|context|global.
    public var vector: String

    /// nil for names that are not IOMMU fault vectors (including `dmarN-perf`, perfmon).
    public init?(action: String) {
        if action.hasPrefix("dmar") {
            let body = action.dropFirst(4)
            if let n = UInt32(body) {
                self.init(vendor: .intel, unit: "dmar\(n)", vector: "fault")
                return
            }
            if body.hasSuffix("-prq"), let n = UInt32(body.dropLast(4)) {
                self.init(vendor: .intel, unit: "dmar\(n)", vector: "prq")
                return
            }
            return nil
        }
        if action == "AMD-Vi" {
            self.init(vendor: .amd, unit: nil, vector: "shared")
            return
        }
        if action.hasPrefix("AMD-Vi") {
            // v6.6+ x2APIC mode: AMD-Vi%d-Evt / -PPR / -GA, %d = the N of ivhdN.
            let body = action.dropFirst(6)
            guard let dash = body.firstIndex(of: "-"), let n = UInt32(body[body.startIndex..<dash]) else { return nil }
            let kind = body[body.index(after: dash)...]
            let vector: String
            switch kind {
            case "Evt": vector = "evt"
            case "PPR": vector = "ppr"
            case "GA": vector = "ga"
            default: return nil
            }
            self.init(vendor: .amd, unit: "ivhd\(n)", vector: vector)
            return
        }
        switch action {
        case "arm-smmu-v3-evtq": self.init(vendor: .armSMMUv3, unit: nil, vector: "evtq")
        case "arm-smmu-v3-priq": self.init(vendor: .armSMMUv3, unit: nil, vector: "priq")
        case "arm-smmu-v3-gerror": self.init(vendor: .armSMMUv3, unit: nil, vector: "gerror")
        case "arm-smmu-v3-combined-irq": self.init(vendor: .armSMMUv3, unit: nil, vector: "combined")
        case "arm-smmu global fault": self.init(vendor: .armSMMU, unit: nil, vector: "global")
        case "arm-smmu-context-fault": self.init(vendor: .armSMMU, unit: nil, vector: "context")
        default: return nil
        }
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

    /// Make sure a (unit, vector) exists with zero, so it is exported before any interrupt.
    public mutating func declare(irq: UInt32, unit: String, vector: String) {
        let key = Source(irq: irq, unit: unit, vector: vector)
        if perCPUMax[key] == nil { perCPUMax[key] = [:] }
    }

    public var totals: [InterruptKey: UInt64] {
        var out: [InterruptKey: UInt64] = [:]
        for (k, cpus) in perCPUMax {
            out[InterruptKey(unit: k.unit, vector: k.vector), default: 0] += cpus.values.reduce(0, +)
        }
        return out
    }

    public func total(unit: String) -> UInt64 {
        perCPUMax.reduce(0) { $0 + ($1.key.unit == unit ? $1.value.values.reduce(0, +) : 0) }
    }
}
