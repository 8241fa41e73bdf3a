/// What the ledger remembers about one device that faulted: its fault counters, one per
/// `iommu_faults_total` series (unit, vendor, kind, reason, class), and its last fault.
///
/// The counters live here, not in a table of their own keyed by the whole series: a fault is
/// then counted with one lookup (by device) instead of two (bench/: replay throughput).
///
/// Kept small: the ledger holds one per device (`DeviceTable`, tens of thousands in a large
/// replay), and copies of the ledger share them until one changes. The last fault, a large
/// value, lives in a box (copy on write) so a summary is a few words, not the size of a `Fault`.
public struct DeviceSummary: Sendable, Equatable {
    public var device: String
    public var unit: String
    public var vendor: Vendor
    public var total: UInt64 = 0
    public var recoverable: UInt64 = 0
    public var nonRecoverable: UInt64 = 0
    /// Nearly every device faults one way only, so the first series is kept inline and only
    /// further ones go to an array: a new device costs no allocation for its counts.
    private(set) var firstSeries: Series?
    private(set) var moreSeries: [Series] = []

    /// Faults by kind.
    public var byKind: [FaultKind: UInt64] {
        var out: [FaultKind: UInt64] = [:]
        forEachSeries { out[$0.kind, default: 0] += $0.count }
        return out
    }

    /// Faults by reason code ("" when the vendor has none).
    public var byReason: [String: UInt64] { Self.byReason(firstSeries, moreSeries) }

    static func byReason(_ first: Series?, _ more: [Series]) -> [String: UInt64] {
        guard let first else { return [:] }
        var out = [first.reason: first.count]
        for s in more { out[s.reason, default: 0] += s.count }
        return out
    }

    /// The device's counters, by their `iommu_faults_total` key.
    public var series: [FaultCounterKey: UInt64] {
        var out: [FaultCounterKey: UInt64] = [:]
        forEachSeries { out[$0.key(device: device)] = $0.count }
        return out
    }

    public var lastFault: Fault? {
        get { lastFaultBox?.fault }
        set {
            guard let newValue else { return lastFaultBox = nil }
            if lastFaultBox != nil, isKnownUniquelyReferenced(&lastFaultBox!) {
                lastFaultBox!.fault = newValue
            } else {
                lastFaultBox = FaultBox(newValue)
            }
        }
    }
    private var lastFaultBox: FaultBox?

    /// Reads the last fault where it lies, without copying it out (a copy retains each of its
    /// strings; the devices table of a large replay reads tens of thousands).
    public func withLastFault<R>(_ body: (borrowing Fault) -> R) -> R? {
        guard let box = lastFaultBox else { return nil }
        return body(box.fault)
    }
    /// Wall-clock µs of the last fault (kmsg timestamp mapped to realtime), when known.
    public var lastFaultRealtimeUsec: Int64?

    public init(device: String, unit: String, vendor: Vendor) {
        self.device = device
        self.unit = unit
        self.vendor = vendor
    }

    /// Counts one fault of this device; it becomes the last.
    mutating func count(_ f: __owned Fault, realtimeOffsetUsec: Int64?) {
        let unit = f.unit ?? unknownLabel
        self.unit = unit
        add(
            Series(
                unit: unit, vendor: f.vendor, kind: f.kind, reason: f.reasonString ?? "", recoverable: f.recoverable,
                count: 1))
        if let ts = f.timestampUsec, let off = realtimeOffsetUsec {
            lastFaultRealtimeUsec = Int64(truncatingIfNeeded: ts) + off
        }
        lastFault = consume f
    }

    /// Adds the faults of one series (a fault, or a counter read back from a checkpoint).
    mutating func add(_ s: Series) {
        total += s.count
        if s.recoverable { recoverable += s.count } else { nonRecoverable += s.count }
        if firstSeries == nil {
            firstSeries = s
        } else if firstSeries!.sameKey(s) {
            firstSeries!.count += s.count
        } else if let i = moreSeries.firstIndex(where: { $0.sameKey(s) }) {
            moreSeries[i].count += s.count
        } else {
            moreSeries.append(s)
        }
    }

    func forEachSeries(_ body: (Series) -> Void) {
        guard let first = firstSeries else { return }
        body(first)
        for s in moreSeries { body(s) }
    }

    public static func == (l: Self, r: Self) -> Bool {
        l.device == r.device && l.unit == r.unit && l.vendor == r.vendor && l.total == r.total
            && l.recoverable == r.recoverable && l.nonRecoverable == r.nonRecoverable && l.series == r.series
            && l.lastFault == r.lastFault && l.lastFaultRealtimeUsec == r.lastFaultRealtimeUsec
    }

    /// The reason seen most often (ties: the lower code), with its count.
    public var topReason: (reason: String, count: UInt64)? { Self.topReason(firstSeries, moreSeries) }

    /// `topReason` from the series alone (the status table reads them where they lie: a
    /// summary read whole through a pointer is copied first).
    static func topReason(_ first: Series?, _ more: [Series]) -> (reason: String, count: UInt64)? {
        // The status of a large replay asks every device of thousands: most have one series.
        guard let first else { return nil }
        if more.isEmpty { return first.reason.isEmpty ? nil : (first.reason, first.count) }
        var best: (reason: String, count: UInt64)?
        for (reason, count) in byReason(first, more) where !reason.isEmpty {
            if let b = best, b.count > count || (b.count == count && b.reason < reason) { continue }
            best = (reason, count)
        }
        return best
    }
}

/// The faults of one device under one counter key: everything of a `FaultCounterKey` but the
/// device, and the count.
struct Series: Sendable {
    var unit: String
    var vendor: Vendor
    var kind: FaultKind
    /// `0x06`, or "" when the vendor has no reason code.
    var reason: String
    var recoverable: Bool
    var count: UInt64

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

    func key(device: String) -> FaultCounterKey {
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

/// A device's last fault, shared between copies of its summary until one of them changes it.
/// Only `DeviceSummary` touches it, replacing the fault only when it holds the one reference.
private final class FaultBox: @unchecked Sendable {
    var fault: Fault
    init(_ fault: Fault) { self.fault = fault }
}
