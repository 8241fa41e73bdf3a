/// Label values for "not known": a fault whose unit or device could not be resolved keeps
/// counting, under this value (ARCHITECTURE.md: unmatched faults keep `unit="unknown"`).
public let unknownLabel = "unknown"

/// One `iommu_faults_total` series.
public struct FaultCounterKey: Hashable, Sendable, Comparable {
    public var unit: String
    public var device: String
    public var vendor: Vendor
    public var kind: FaultKind
    /// `0x06`, or "" when the vendor has no reason code (AMD, SMMU).
    public var reason: String
    public var recoverable: Bool

    public init(unit: String, device: String, vendor: Vendor, kind: FaultKind, reason: String, recoverable: Bool) {
        self.unit = unit
        self.device = device
        self.vendor = vendor
        self.kind = kind
        self.reason = reason
        self.recoverable = recoverable
    }

    public init(_ f: borrowing Fault) {
        self.init(
            unit: f.unit ?? unknownLabel, device: f.deviceLabel ?? unknownLabel, vendor: f.vendor,
            kind: f.kind, reason: f.reasonString ?? "", recoverable: f.recoverable)
    }

    public static func < (l: Self, r: Self) -> Bool {
        (l.unit, l.device, l.vendor.rawValue, l.kind.rawValue, l.reason, l.recoverable ? 1 : 0)
            < (r.unit, r.device, r.vendor.rawValue, r.kind.rawValue, r.reason, r.recoverable ? 1 : 0)
    }
}

/// One `iommu_fault_overflows_total` series.
public struct OverflowKey: Hashable, Sendable, Comparable {
    public var vendor: Vendor
    public var unit: String
    public var log: String

    public init(vendor: Vendor, unit: String, log: String) {
        self.vendor = vendor
        self.unit = unit
        self.log = log
    }

    public static func < (l: Self, r: Self) -> Bool {
        (l.unit, l.log, l.vendor.rawValue) < (r.unit, r.log, r.vendor.rawValue)
    }
}

/// A unit-level error (GERROR, Service Failure Mode, …) counter.
public struct UnitErrorKey: Hashable, Sendable, Comparable {
    public var vendor: Vendor
    public var unit: String
    public var what: String

    public init(vendor: Vendor, unit: String, what: String) {
        self.vendor = vendor
        self.unit = unit
        self.what = what
    }

    public static func < (l: Self, r: Self) -> Bool {
        (l.unit, l.what, l.vendor.rawValue) < (r.unit, r.what, r.vendor.rawValue)
    }
}

/// One `iommu_fault_interrupts_total` series: a unit's vector, e.g. (dmar0, fault).
public struct InterruptKey: Hashable, Sendable, Comparable {
    public var unit: String
    public var vector: String

    public init(unit: String, vector: String) {
        self.unit = unit
        self.vector = vector
    }

    public static func < (l: Self, r: Self) -> Bool { (l.unit, l.vector) < (r.unit, r.vector) }
}
