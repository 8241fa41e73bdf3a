/// What the ledger remembers about one device that faulted: its fault counters, one per
/// `iommu_faults_total` series (unit, vendor, kind, reason, class), and its last fault. A fault
/// is counted with one lookup, by device; nearly every device faults one way only, so its
/// series are a short array.
public struct DeviceSummary: Sendable, Equatable {
    public var device: String
    public var unit: String
    public var vendor: Vendor
    public var total: UInt64 = 0
    public var recoverable: UInt64 = 0
    public var nonRecoverable: UInt64 = 0
    public private(set) var series: [Series] = []
    public var lastFault: Fault?
    /// Wall-clock µs of the last fault (kmsg timestamp mapped to realtime), when known.
    public var lastFaultRealtimeUsec: Int64?

    public init(device: String, unit: String, vendor: Vendor) {
        self.device = device
        self.unit = unit
        self.vendor = vendor
    }

    /// Faults by kind.
    public var byKind: [FaultKind: UInt64] {
        var out: [FaultKind: UInt64] = [:]
        for s in series { out.add(s.count, to: s.kind) }
        return out
    }

    /// Faults by reason code ("" when the vendor has none).
    public var byReason: [String: UInt64] {
        var out: [String: UInt64] = [:]
        for s in series { out.add(s.count, to: s.reason) }
        return out
    }

    /// The device's counters, by their `iommu_faults_total` key.
    public var counters: [FaultCounterKey: UInt64] {
        var out: [FaultCounterKey: UInt64] = [:]
        for s in series { out[s.key(device: device)] = s.count }
        return out
    }

    /// Counts one fault of this device; it becomes the last.
    mutating func count(_ f: Fault, realtimeOffsetUsec: Int64?) {
        let unit = f.unit ?? unknownLabel
        self.unit = unit
        add(
            Series(
                unit: unit, vendor: f.vendor, kind: f.kind, reason: f.reasonString ?? "", recoverable: f.recoverable,
                count: 1))
        if let ts = f.timestampUsec, let off = realtimeOffsetUsec {
            lastFaultRealtimeUsec = Int64(clamping: ts).addingReportingOverflow(off).partialValue
        }
        lastFault = f
    }

    /// Adds the faults of one series (a fault, or a counter read back from a checkpoint).
    mutating func add(_ s: Series) {
        total = total.saturatingAdd(s.count)
        if s.recoverable {
            recoverable = recoverable.saturatingAdd(s.count)
        } else {
            nonRecoverable = nonRecoverable.saturatingAdd(s.count)
        }
        if let i = series.firstIndex(where: { $0.sameKey(s) }) {
            series[i].count = series[i].count.saturatingAdd(s.count)
        } else {
            series.append(s)
        }
    }

    public static func == (l: Self, r: Self) -> Bool {
        l.device == r.device && l.unit == r.unit && l.vendor == r.vendor && l.total == r.total
            && l.recoverable == r.recoverable && l.nonRecoverable == r.nonRecoverable && l.counters == r.counters
            && l.lastFault == r.lastFault && l.lastFaultRealtimeUsec == r.lastFaultRealtimeUsec
    }

    /// The reason seen most often (ties: the lower code), with its count.
    public var topReason: (reason: String, count: UInt64)? {
        var best: (reason: String, count: UInt64)?
        for (reason, count) in byReason where !reason.isEmpty {
            if let b = best, b.count > count || (b.count == count && b.reason < reason) { continue }
            best = (reason, count)
        }
        return best
    }
}

/// The faults of one device under one counter key: everything of a `FaultCounterKey` but the
/// device, and the count.
public struct Series: Sendable, Equatable {
    public var unit: String
    public var vendor: Vendor
    public var kind: FaultKind
    /// `0x06`, or "" when the vendor has no reason code.
    public var reason: String
    public var recoverable: Bool
    public var count: UInt64

    init(unit: String, vendor: Vendor, kind: FaultKind, reason: String, recoverable: Bool, count: UInt64) {
        self.unit = unit
        self.vendor = vendor
        self.kind = kind
        self.reason = reason
        self.recoverable = recoverable
        self.count = count
    }

    init(_ k: FaultCounterKey, count: UInt64) {
        self.init(
            unit: k.unit, vendor: k.vendor, kind: k.kind, reason: k.reason, recoverable: k.recoverable, count: count)
    }

    func sameKey(_ o: Series) -> Bool {
        kind == o.kind && reason == o.reason && recoverable == o.recoverable && vendor == o.vendor && unit == o.unit
    }

    public func key(device: String) -> FaultCounterKey {
        FaultCounterKey(
            unit: unit, device: device, vendor: vendor, kind: kind, reason: reason, recoverable: recoverable)
    }
}

/// A contiguous run of kmsg records the daemon never saw.
public struct LossRange: Sendable, Equatable {
    /// The last seq seen before the loss (nil: the start of the boot).
    public var afterSeq: UInt64?
    /// The first seq seen after it.
    public var beforeSeq: UInt64
    public var count: UInt64

    public init(afterSeq: UInt64?, beforeSeq: UInt64, count: UInt64) {
        self.afterSeq = afterSeq
        self.beforeSeq = beforeSeq
        self.count = count
    }
}

/// An IOMMU-looking line no format matched, kept for `status`.
public struct UnparsedLine: Sendable, Equatable {
    public var vendor: Vendor?
    public var seq: UInt64?
    public var text: String

    public init(vendor: Vendor?, seq: UInt64?, text: String) {
        self.vendor = vendor
        self.seq = seq
        self.text = text
    }
}
