/// Totals across boots, kept apart from this boot's counters (Prometheus counters are per boot;
/// `status` shows both).
public struct LifetimeTotals: Sendable, Equatable {
    /// Boots folded in before this one.
    public var previousBoots: UInt64 = 0
    public var faults: UInt64 = 0
    public var recoverable: UInt64 = 0
    public var nonRecoverable: UInt64 = 0
    public var lostRecords: UInt64 = 0
    public var suppressed: UInt64 = 0
    /// Wall time the first boot was seen (µs), if known.
    public var sinceUsec: Int64?

    public init() {}

    /// Adds a finished boot's ledger.
    public mutating func fold(_ l: FaultLedger) {
        previousBoots = previousBoots.saturatingAdd(1)
        l.forEachSeries { k, v in
            faults = faults.saturatingAdd(v)
            if k.recoverable {
                recoverable = recoverable.saturatingAdd(v)
            } else {
                nonRecoverable = nonRecoverable.saturatingAdd(v)
            }
        }
        lostRecords = lostRecords.saturatingAdd(l.lostRecords)
        suppressed = suppressed.saturatingAdd(l.suppressed.values.saturatingSum())
    }

    /// This boot plus all earlier ones.
    public func including(_ l: FaultLedger) -> LifetimeTotals {
        var t = self
        t.fold(l)
        return t
    }
}
