/// The counting state: faults per (unit, device, vendor, kind, reason, recoverable), what the
/// kernel said it dropped, what the daemon never saw, interrupt counts, and the last fault of
/// each device. Pure: `KmsgPipeline` owns one; sinks render from copies of it. Everything here
/// is saved in the checkpoint (`CheckpointCodec`). Every count saturates instead of trapping:
/// they come from outside (a line may claim UInt64.max suppressed messages).
public struct FaultLedger: Sendable, Equatable {
    /// Faults of lines that named no device (device `unknown`), by counter key. A device's
    /// counters live in its summary (`devices`); `faults` and `forEachSeries` show them all.
    public internal(set) var devicelessFaults: [FaultCounterKey: UInt64] = [:]
    public internal(set) var devices = DeviceTable()
    /// At most this many devices get series of their own; faults of further devices are
    /// counted, exactly, under the device `overflow` (a device that forges requester ids must
    /// not grow the daemon's memory, the checkpoint and the scrape without end).
    public var deviceLimit: Int = FaultLedger.defaultDeviceLimit
    /// Faults counted under `overflow` because `deviceLimit` was reached, and the distinct
    /// devices turned away (counted up to `deviceLimit` more, then only the faults).
    public internal(set) var overflowFaults: UInt64 = 0
    /// `callbacks suppressed` messages, by kernel function.
    public internal(set) var suppressed: [String: UInt64] = [:]
    /// The family each suppressed source belongs to (absent: an IOMMU function of no family).
    public internal(set) var suppressedVendor: [String: Vendor] = [:]
    public internal(set) var overflows: [OverflowKey: UInt64] = [:]
    public internal(set) var unitErrors: [UnitErrorKey: UInt64] = [:]
    /// Unparsed IOMMU-looking lines by vendor label (`unknown` when no vendor could be told).
    public internal(set) var unparsed: [String: UInt64] = [:]
    public internal(set) var recentUnparsed: [UnparsedLine] = []
    public internal(set) var inventory: [InventoryItem] = []
    /// Faults that matched an `[[expected]]` rule: counted there, by rule, never in the series
    /// above (so `iommu_faults_total`, `iommu_unit_faults_total` and the alerts on them leave
    /// them out).
    public internal(set) var expected = ExpectedLedger()

    /// kmsg accounting (ARCHITECTURE.md "Counting honestly": lost = never seen by the daemon).
    public internal(set) var records: UInt64 = 0
    public internal(set) var lostRecords: UInt64 = 0
    public internal(set) var lastSeq: UInt64?
    public internal(set) var losses: [LossRange] = []
    /// EPIPE returns from /dev/kmsg (each one is also a seq gap, counted in `lostRecords`).
    public internal(set) var overruns: UInt64 = 0
    /// Input that is not a kernel record at all, and records or lines over the size limit.
    public internal(set) var malformedRecords: UInt64 = 0
    public internal(set) var oversizedRecords: UInt64 = 0

    /// Fault interrupts per (unit, vector), summed over CPUs from per-(irq, CPU) maxima.
    public internal(set) var interrupts: InterruptLedger = InterruptLedger()

    /// Intel fault records behind `dmar_fault()`'s ratelimit (Estimator/), fed from what is
    /// counted here, so it sees every record exactly once and is checkpointed with the counters.
    public var dmarEstimator = DMARFaultEstimator()
    /// AMD-Vi and SMMUv3 ratelimit windows: whether a suppressed count may be pending.
    public internal(set) var eventWindows = EventRatelimitWindows()

    public static let recentUnparsedLimit = 10
    public static let lossHistoryLimit = 32
    public static let inventoryLimit = 256
    /// The default of `[ledger] max_devices`: more PCI functions than the largest real servers
    /// have (thousands, with SR-IOV virtual functions), far fewer than a forging device can make.
    public static let defaultDeviceLimit = 16_384
    /// The device label of faults beyond `deviceLimit`.
    public static let overflowDevice = "overflow"

    public init() {}

    // MARK: - Folding outputs in

    /// Folds one classifier output in. `realtimeOffsetUsec` maps the kmsg monotonic timestamp
    /// to wall time (realtime_now − monotonic_now), when the caller knows it.
    public mutating func record(_ output: ClassifierOutput, realtimeOffsetUsec: Int64? = nil) {
        switch output {
        case .fault(let f):
            recordFault(f, realtimeOffsetUsec: realtimeOffsetUsec)
            eventWindows.observe(f)
            if f.vendor == .intel, IntelVTd.ratelimitedKinds.contains(f.kind) {
                // `unknown` and `ambiguous` name no unit: records of no unit, to the estimator.
                let unit = f.unit.flatMap { $0 == unknownLabel || $0 == Topology.ambiguousUnit ? nil : $0 }
                dmarEstimator.observe(.record(unit: unit, tsUsec: f.timestampUsec))
            }
        case .marker(let m, _, let ts):
            switch m {
            case .suppressed(let source, let vendor, let count):
                suppressed.add(count, to: source)
                if let vendor { suppressedVendor[source] = vendor }
                if source == IntelVTd.faultHandlerFunction {
                    dmarEstimator.observe(.suppressed(count: count, tsUsec: ts))
                }
            case .faultStatus(let vendor, let status):
                if vendor == .intel { dmarEstimator.observe(.statusLine(status: status, tsUsec: ts)) }
            case .overflow(let vendor, let unit, let log):
                overflows.add(1, to: OverflowKey(vendor: vendor, unit: unit ?? unknownLabel, log: log))
            case .unitError(let vendor, let unit, let what):
                unitErrors.add(1, to: UnitErrorKey(vendor: vendor, unit: unit ?? unknownLabel, what: what))
            }
        case .inventory(let item, _):
            if !inventory.contains(item) && inventory.count < Self.inventoryLimit { inventory.append(item) }
        case .unparsed(let vendor, let text, let seq):
            unparsed.add(1, to: vendor?.rawValue ?? unknownLabel)
            recentUnparsed.append(UnparsedLine(vendor: vendor, seq: seq, text: String(text.prefix(1024))))
            if recentUnparsed.count > Self.recentUnparsedLimit {
                recentUnparsed.removeFirst(recentUnparsed.count - Self.recentUnparsedLimit)
            }
        }
    }

    mutating func recordFault(_ f: Fault, realtimeOffsetUsec: Int64?) {
        if let rule = f.expectedRule {
            expected.count(f, rule: rule, realtimeOffsetUsec: realtimeOffsetUsec)
            return
        }
        guard let device = f.deviceLabel else {
            devicelessFaults.add(1, to: FaultCounterKey(f))
            return
        }
        if devices.position(of: device) == nil && devices.count >= deviceLimit {
            overflowFaults = overflowFaults.saturatingAdd(1)
            var key = FaultCounterKey(f)
            key.device = Self.overflowDevice
            devicelessFaults.add(1, to: key)
            return
        }
        let i = devices.position(of: device) {
            DeviceSummary(device: device, unit: f.unit ?? unknownLabel, vendor: f.vendor)
        }
        devices.values[i].count(f, realtimeOffsetUsec: realtimeOffsetUsec)
    }

    /// Adds `count` faults under one counter key (a checkpoint's counters, read back).
    public mutating func addFaults(_ key: FaultCounterKey, count: UInt64) {
        guard key.device != unknownLabel, key.device != Self.overflowDevice else {
            devicelessFaults.add(count, to: key)
            return
        }
        guard devices.position(of: key.device) != nil || devices.count < deviceLimit else {
            var k = key
            k.device = Self.overflowDevice
            devicelessFaults.add(count, to: k)
            overflowFaults = overflowFaults.saturatingAdd(count)
            return
        }
        let i = devices.position(of: key.device) {
            DeviceSummary(device: key.device, unit: key.unit, vendor: key.vendor)
        }
        devices.values[i].add(Series(key, count: count))
    }

    /// Records read from the kernel (after skipping what an earlier run already counted).
    public mutating func recordKmsg(records n: UInt64, lastSeq seq: UInt64?) {
        records = records.saturatingAdd(n)
        if let seq { lastSeq = max(lastSeq ?? 0, seq) }
    }

    public mutating func recordLoss(_ loss: LossRange) {
        guard loss.count > 0 else { return }
        lostRecords = lostRecords.saturatingAdd(loss.count)
        dmarEstimator.observe(.lost(records: loss.count))
        if let last = losses.last, last.beforeSeq == loss.beforeSeq, last.afterSeq == loss.afterSeq { return }
        losses.append(loss)
        if losses.count > Self.lossHistoryLimit { losses.removeFirst(losses.count - Self.lossHistoryLimit) }
    }

    /// A checkpoint without the estimator's state (written before it existed): if Intel fault
    /// lines or fault interrupts were counted already, the estimator missed them.
    mutating func noteEstimatorMissing() {
        let intelFaults = faults.contains { $0.key.vendor == .intel && IntelVTd.ratelimitedKinds.contains($0.key.kind) }
        let intelInterrupts = interrupts.totals.contains { IntelVTd.isFaultVector($0.key) && $0.value > 0 }
        if intelFaults || (suppressed[IntelVTd.faultHandlerFunction] ?? 0) > 0 || intelInterrupts {
            dmarEstimator.markStartedLate()
        }
    }

    /// A checkpoint from before the AMD-Vi / SMMUv3 windows were saved: a family that had faults
    /// may have a count pending.
    mutating func noteEventWindowsMissing() {
        for v in EventRatelimitWindows.eventSources.keys where faults.contains(where: { $0.key.vendor == v }) {
            eventWindows.markUnknown(v)
        }
    }

    public mutating func recordOverrun() { overruns = overruns.saturatingAdd(1) }

    public mutating func recordMalformed(_ malformed: UInt64, oversized: UInt64) {
        malformedRecords = malformedRecords.saturatingAdd(malformed)
        oversizedRecords = oversizedRecords.saturatingAdd(oversized)
    }

    public mutating func recordInterrupts(_ sample: [InterruptObservation]) {
        interrupts.fold(sample)
        for (key, total) in interrupts.totals where IntelVTd.isFaultVector(key) {
            dmarEstimator.observe(.interrupts(unit: key.unit, total: total))
        }
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

    /// Faults per unit, by class (`iommu_unit_faults_total`) and by vendor (status).
    public func unitFaults() -> [String: UnitFaults] {
        var out: [String: UnitFaults] = [:]
        forEachSeries { k, v in out[k.unit, default: UnitFaults()].add(k.vendor, k.recoverable, v) }
        return out
    }

    /// Every counter: one `iommu_faults_total` series each.
    public var faults: [FaultCounterKey: UInt64] {
        var out = devicelessFaults
        for d in devices.values { out.merge(d.counters) { $0.saturatingAdd($1) } }
        return out
    }

    /// Every counter with its key: devices in the order they first faulted, then the faults
    /// that named no device (by key).
    public func forEachSeries(_ body: (FaultCounterKey, UInt64) -> Void) {
        for d in devices.values {
            for s in d.series { body(s.key(device: d.device), s.count) }
        }
        for (k, v) in devicelessFaults.sorted(by: { $0.key < $1.key }) { body(k, v) }
    }

    public var hasFaults: Bool { !devices.isEmpty || !devicelessFaults.isEmpty }

    public var totalFaults: UInt64 {
        var n = devicelessFaults.values.saturatingSum()
        for d in devices.values { n = n.saturatingAdd(d.total) }
        return n
    }

    public func suppressed(for vendor: Vendor) -> UInt64 {
        var n: UInt64 = 0
        for (source, count) in suppressed where suppressedVendor[source] == vendor { n = n.saturatingAdd(count) }
        return n
    }

    public func overflowSeen(vendor: Vendor, unit: String) -> Bool {
        overflows.contains { $0.key.vendor == vendor && ($0.key.unit == unit || $0.key.unit == unknownLabel) }
    }
}

/// One unit's counters summed: faults by class and by vendor.
public struct UnitFaults: Sendable {
    public var recoverable: UInt64 = 0
    public var nonRecoverable: UInt64 = 0
    /// Faults per vendor.
    public private(set) var byVendor: [Vendor: UInt64] = [:]

    public init() {}

    mutating func add(_ vendor: Vendor, _ isRecoverable: Bool, _ n: UInt64) {
        if isRecoverable {
            recoverable = recoverable.saturatingAdd(n)
        } else {
            nonRecoverable = nonRecoverable.saturatingAdd(n)
        }
        byVendor.add(n, to: vendor)
    }

    public var total: UInt64 { recoverable.saturatingAdd(nonRecoverable) }

    /// The vendor with the most faults; ties go to the first by name.
    public var mostFaultsVendor: Vendor? {
        byVendor.max { a, b in a.value != b.value ? a.value < b.value : a.key > b.key }?.key
    }
}
