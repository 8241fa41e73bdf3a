/// What the ledger remembers about one device that faulted.
///
/// Kept small: the ledger holds one per device (tens of thousands in a large replay) in a hash
/// table that moves every entry each time it grows. The last fault, a large value, lives in a
/// box (copy on write) so an entry is a few words, not the size of a `Fault`.
public struct DeviceSummary: Sendable, Equatable {
    public var device: String
    public var unit: String
    public var vendor: Vendor
    public var total: UInt64 = 0
    public var recoverable: UInt64 = 0
    public var nonRecoverable: UInt64 = 0
    /// Faults by (kind, reason). Nearly every device faults one way only, so the first tally is
    /// kept inline and only further ones go to an array: a new device costs no allocation for
    /// its counts (two dictionaries per device took a fifth of a large replay's time and most
    /// of its memory — bench/: replay throughput).
    private var firstTally: Tally?
    private var moreTallies: [Tally] = []

    /// Faults by kind.
    public var byKind: [FaultKind: UInt64] {
        var out: [FaultKind: UInt64] = [:]
        forEachTally { out[$0.kind, default: 0] += $0.count }
        return out
    }

    /// Faults by reason code ("" when the vendor has none).
    public var byReason: [String: UInt64] {
        var out: [String: UInt64] = [:]
        forEachTally { out[$0.reason, default: 0] += $0.count }
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

    mutating func count(_ f: Fault, key: FaultCounterKey, realtimeOffsetUsec: Int64?) {
        unit = key.unit
        total += 1
        if f.recoverable { recoverable += 1 } else { nonRecoverable += 1 }
        add(kind: f.kind, reason: key.reason, count: 1)
        lastFault = f
        if let ts = f.timestampUsec, let off = realtimeOffsetUsec {
            lastFaultRealtimeUsec = Int64(truncatingIfNeeded: ts) + off
        }
    }

    /// Adds `count` faults of one kind and reason.
    mutating func add(kind: FaultKind, reason: String, count: UInt64) {
        if firstTally == nil {
            firstTally = Tally(kind: kind, reason: reason, count: count)
        } else if firstTally!.kind == kind && firstTally!.reason == reason {
            firstTally!.count += count
        } else if let i = moreTallies.firstIndex(where: { $0.kind == kind && $0.reason == reason }) {
            moreTallies[i].count += count
        } else {
            moreTallies.append(Tally(kind: kind, reason: reason, count: count))
        }
    }

    private func forEachTally(_ body: (Tally) -> Void) {
        guard let first = firstTally else { return }
        body(first)
        for t in moreTallies { body(t) }
    }

    public static func == (l: Self, r: Self) -> Bool {
        l.device == r.device && l.unit == r.unit && l.vendor == r.vendor && l.total == r.total
            && l.recoverable == r.recoverable && l.nonRecoverable == r.nonRecoverable && l.byKind == r.byKind
            && l.byReason == r.byReason && l.lastFault == r.lastFault
            && l.lastFaultRealtimeUsec == r.lastFaultRealtimeUsec
    }

    /// The reason seen most often (ties: the lower code), with its count.
    public var topReason: (reason: String, count: UInt64)? {
        // The status of a large replay asks every device of thousands: most have one tally.
        if moreTallies.isEmpty {
            guard let t = firstTally, !t.reason.isEmpty else { return nil }
            return (t.reason, t.count)
        }
        var best: (reason: String, count: UInt64)?
        for (reason, count) in byReason where !reason.isEmpty {
            if let b = best, b.count > count || (b.count == count && b.reason < reason) { continue }
            best = (reason, count)
        }
        return best
    }
}

/// Faults of one kind and reason on one device.
private struct Tally: Sendable {
    var kind: FaultKind
    var reason: String
    var count: UInt64
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
