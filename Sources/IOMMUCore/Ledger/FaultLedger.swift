/// The counting state: faults per (unit, device, vendor, kind, reason, recoverable), what the
/// kernel said it dropped, what the daemon never saw, interrupt counts, and the last fault of
/// each device. Pure: the daemon's event loop owns one, `iommud replay` another; sinks render
/// from it. Everything here is saved in the checkpoint (see `LedgerCodec`).
public struct FaultLedger: Sendable, Equatable {
    public internal(set) var faults: [FaultCounterKey: UInt64] = [:]
    public internal(set) var devices: [String: DeviceSummary] = [:]
    /// `callbacks suppressed` messages, by kernel function.
    public internal(set) var suppressed: [String: UInt64] = [:]
    /// The family each suppressed source belongs to (nil: an IOMMU function we do not know).
    public internal(set) var suppressedVendor: [String: Vendor] = [:]
    public internal(set) var overflows: [OverflowKey: UInt64] = [:]
    public internal(set) var unitErrors: [UnitErrorKey: UInt64] = [:]
    /// Unparsed IOMMU-looking lines by vendor label (`unknown` when no vendor could be told).
    public internal(set) var unparsed: [String: UInt64] = [:]
    public internal(set) var recentUnparsed: [UnparsedLine] = []
    public internal(set) var inventory: [InventoryItem] = []

    /// kmsg accounting (ARCHITECTURE.md "Counting honestly": lost = never seen by the daemon).
    public internal(set) var records: UInt64 = 0
    public internal(set) var lostRecords: UInt64 = 0
    public internal(set) var lastSeq: UInt64?
    public internal(set) var losses: [LossRange] = []
    /// EPIPE returns from /dev/kmsg (each one is also a seq gap, counted in `lostRecords`).
    public internal(set) var overruns: UInt64 = 0

    /// Fault interrupts per (unit, vector), summed over CPUs from per-(irq, CPU) maxima.
    public internal(set) var interrupts: InterruptLedger = InterruptLedger()

    public static let recentUnparsedLimit = 10
    public static let lossHistoryLimit = 32

    public init() {}

    /// Makes room for `devices` devices (and as many counter series) at once, so the tables do
    /// not grow step by step: each step rehashes every entry (`iommud replay`, which knows the
    /// size of its input).
    public mutating func reserveCapacity(devices n: Int) {
        faults.reserveCapacity(n)
        self.devices.reserveCapacity(n)
    }

    // MARK: - Folding outputs in

    /// Folds one classifier output in. `realtimeOffsetUsec` maps the kmsg monotonic timestamp
    /// to wall time (realtime_now − monotonic_now), when the caller knows it.
    public mutating func record(_ output: ClassifierOutput, realtimeOffsetUsec: Int64? = nil) {
        switch output {
        case .fault(let f):
            recordFault(f, realtimeOffsetUsec: realtimeOffsetUsec)
        case .marker(let m, _):
            switch m {
            case .suppressed(let source, let vendor, let count):
                suppressed[source, default: 0] += count
                if let vendor { suppressedVendor[source] = vendor }
            case .overflow(let vendor, let unit, let log):
                overflows[OverflowKey(vendor: vendor, unit: unit ?? unknownLabel, log: log), default: 0] += 1
            case .unitError(let vendor, let unit, let what):
                unitErrors[UnitErrorKey(vendor: vendor, unit: unit ?? unknownLabel, what: what), default: 0] += 1
            }
        case .inventory(let item, _):
            if !inventory.contains(item) { inventory.append(item) }
        case .unparsed(let vendor, let text, let seq):
            unparsed[vendor?.rawValue ?? unknownLabel, default: 0] += 1
            recentUnparsed.append(UnparsedLine(vendor: vendor, seq: seq, text: text))
            if recentUnparsed.count > Self.recentUnparsedLimit {
                recentUnparsed.removeFirst(recentUnparsed.count - Self.recentUnparsedLimit)
            }
        }
    }

    mutating func recordFault(_ f: Fault, realtimeOffsetUsec: Int64?) {
        let key = FaultCounterKey(f)
        faults[key, default: 0] += 1
        guard f.device != nil else { return }
        // Updated in place (the `default:` subscript's modify accessor): copying the summary out
        // and back would copy its two dictionaries on every fault.
        devices[key.device, default: DeviceSummary(device: key.device, unit: key.unit, vendor: f.vendor)].count(
            f, key: key, realtimeOffsetUsec: realtimeOffsetUsec)
    }

    /// Records read from the kernel (after skipping what an earlier run already counted),
    /// with the loss before the first of them.
    public mutating func recordKmsg(records n: UInt64, lastSeq seq: UInt64?) {
        records += n
        if let seq { lastSeq = max(lastSeq ?? 0, seq) }
    }

    public mutating func recordLoss(_ loss: LossRange) {
        guard loss.count > 0 else { return }
        lostRecords += loss.count
        if let last = losses.last, last.beforeSeq == loss.beforeSeq, last.afterSeq == loss.afterSeq { return }
        losses.append(loss)
        if losses.count > Self.lossHistoryLimit { losses.removeFirst(losses.count - Self.lossHistoryLimit) }
    }

    public mutating func recordOverrun() { overruns += 1 }

    public mutating func recordInterrupts(_ sample: [InterruptObservation]) {
        interrupts.fold(sample)
    }

    /// Rebuilds the per-device summaries from the counters (after loading a checkpoint, which
    /// stores only each device's last fault beside them).
    public mutating func rebuildDevices(lastFaults: [String: (Fault, Int64?)]) {
        devices = [:]
        for (k, v) in faults where k.device != unknownLabel {
            var d = devices[k.device] ?? DeviceSummary(device: k.device, unit: k.unit, vendor: k.vendor)
            d.total += v
            if k.recoverable { d.recoverable += v } else { d.nonRecoverable += v }
            d.add(kind: k.kind, reason: k.reason, count: v)
            devices[k.device] = d
        }
        for (dev, last) in lastFaults where devices[dev] != nil {
            devices[dev]!.lastFault = last.0
            devices[dev]!.lastFaultRealtimeUsec = last.1
            devices[dev]!.unit = last.0.unit ?? devices[dev]!.unit
        }
    }

    // MARK: - Views

    /// Faults per unit, by class (`iommu_unit_faults_total`) and by vendor (status), in one
    /// pass over the counters: a large replay has tens of thousands of series.
    public func unitFaults() -> [String: UnitFaults] {
        var out: [String: UnitFaults] = [:]
        for (k, v) in faults { out[k.unit, default: UnitFaults()].add(k, v) }
        return out
    }

    public var totalFaults: UInt64 { faults.values.reduce(0, +) }

    public func suppressed(for vendor: Vendor) -> UInt64 {
        suppressed.reduce(0) { $0 + (suppressedVendor[$1.key] == vendor ? $1.value : 0) }
    }

    public func overflowSeen(vendor: Vendor, unit: String) -> Bool {
        overflows.contains { $0.key.vendor == vendor && ($0.key.unit == unit || $0.key.unit == unknownLabel) }
    }
}

/// One unit's counters summed: faults by class and by vendor.
public struct UnitFaults: Sendable {
    public var recoverable: UInt64 = 0
    public var nonRecoverable: UInt64 = 0
    /// Faults per vendor, in `Vendor.allCases` order; nil: none of that vendor.
    var byVendor: [UInt64?] = Array(repeating: nil, count: Vendor.allCases.count)

    public init() {}

    mutating func add(_ k: FaultCounterKey, _ n: UInt64) {
        if k.recoverable { recoverable += n } else { nonRecoverable += n }
        let v = Vendor.allCases.firstIndex(of: k.vendor)!
        byVendor[v] = (byVendor[v] ?? 0) + n
    }

    /// The vendor with the most faults; ties go to the first in `Vendor.allCases`.
    public var mostFaultsVendor: Vendor? {
        var best: Int?
        for (i, n) in byVendor.enumerated() {
            guard let n else { continue }
            if let b = best, byVendor[b]! >= n { continue }
            best = i
        }
        return best.map { Vendor.allCases[$0] }
    }
}
