/// The counting state: faults per (unit, device, vendor, kind, reason, recoverable), what the
/// kernel said it dropped, what the daemon never saw, interrupt counts, and the last fault of
/// each device. Pure: the daemon's event loop owns one, `iommud replay` another; sinks render
/// from it. Everything here is saved in the checkpoint (see `LedgerCodec`).
public struct FaultLedger: Sendable, Equatable {
    /// Faults of lines that named no device (device `unknown`), by counter key. A device's
    /// counters live in its summary (`devices`); `faults` and `forEachSeries` show them all.
    public internal(set) var devicelessFaults: [FaultCounterKey: UInt64] = [:]
    public internal(set) var devices = DeviceTable()
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

    /// Makes room for `devices` devices at once, so the device table does not grow step by
    /// step: each step rehashes every name and moves every summary (`iommud replay`, which knows
    /// the size of its input).
    public mutating func reserveCapacity(devices n: Int) {
        self.devices.reserveCapacity(n)
    }

    // MARK: - Folding outputs in

    /// Folds one classifier output in. `realtimeOffsetUsec` maps the kmsg monotonic timestamp
    /// to wall time (realtime_now − monotonic_now), when the caller knows it. The output is
    /// consumed: a caller done with it hands it over, and its fault becomes the device's last
    /// without a copy.
    public mutating func record(_ output: __owned ClassifierOutput, realtimeOffsetUsec: Int64? = nil) {
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

    mutating func recordFault(_ f: __owned Fault, realtimeOffsetUsec: Int64?) {
        guard let device = f.device else {
            devicelessFaults[FaultCounterKey(f), default: 0] += 1
            return
        }
        let name = device.description
        let unit = f.unit ?? unknownLabel
        let vendor = f.vendor
        let i = devices.position(of: name) { DeviceSummary(device: name, unit: unit, vendor: vendor) }
        // Updated in place: copying the summary out and back would copy its counters on every
        // fault; the fault itself moves in.
        devices.values[i].count(consume f, realtimeOffsetUsec: realtimeOffsetUsec)
    }

    /// Adds `count` faults under one counter key (a checkpoint's counters, read back).
    public mutating func addFaults(_ key: FaultCounterKey, count: UInt64) {
        guard key.device != unknownLabel else {
            devicelessFaults[key, default: 0] += count
            return
        }
        let i = devices.position(of: key.device) {
            DeviceSummary(device: key.device, unit: key.unit, vendor: key.vendor)
        }
        devices.values[i].add(Series(key, count: count))
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

    /// Gives the devices their last faults back (a checkpoint stores them beside the counters,
    /// which `addFaults` has read back).
    public mutating func restoreLastFaults(_ lastFaults: [String: (Fault, Int64?)]) {
        for (dev, last) in lastFaults {
            guard let i = devices.position(of: dev) else { continue }
            devices.values[i].lastFault = last.0
            devices.values[i].lastFaultRealtimeUsec = last.1
            devices.values[i].unit = last.0.unit ?? devices.values[i].unit
        }
    }

    // MARK: - Views

    /// Faults per unit, by class (`iommu_unit_faults_total`) and by vendor (status), in one
    /// pass over the counters: a large replay has tens of thousands of series.
    public func unitFaults() -> [String: UnitFaults] {
        var out: [String: UnitFaults] = [:]
        for (k, v) in devicelessFaults { out[k.unit, default: UnitFaults()].add(k.vendor, k.recoverable, v) }
        devices.forEachSeries { _, s in out[s.unit, default: UnitFaults()].add(s.vendor, s.recoverable, s.count) }
        return out
    }

    /// Every counter: one `iommu_faults_total` series each.
    public var faults: [FaultCounterKey: UInt64] {
        var out = devicelessFaults
        forEachDeviceSeries { out[$0] = $1 }
        return out
    }

    /// Every counter with its key, in no particular order, without building a table of them.
    public func forEachSeries(_ body: (FaultCounterKey, UInt64) -> Void) {
        for (k, v) in devicelessFaults { body(k, v) }
        forEachDeviceSeries(body)
    }

    private func forEachDeviceSeries(_ body: (FaultCounterKey, UInt64) -> Void) {
        devices.forEachSeries { body($1.key(device: $0), $1.count) }
    }

    public var hasFaults: Bool { !devices.isEmpty || !devicelessFaults.isEmpty }

    public var totalFaults: UInt64 {
        var n = devicelessFaults.values.reduce(0, +)
        devices.forEachSeries { n += $1.count }
        return n
    }

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

    mutating func add(_ vendor: Vendor, _ isRecoverable: Bool, _ n: UInt64) {
        if isRecoverable { recoverable += n } else { nonRecoverable += n }
        let v = Vendor.allCases.firstIndex(of: vendor)!
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
