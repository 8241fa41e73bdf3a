import IOMMUCore
import Synchronization

/// Renders the ledger as Prometheus text (exposition format 0.0.4) at each scrape, from a
/// snapshot of the daemon's pipeline — the ledger is the source of truth; nothing is mirrored
/// into counters that could drift from it. Families come in `MetricFamily` order, series in a
/// fixed order (devices as they first faulted, everything else sorted), so the same state gives
/// the same bytes (the golden file in the tests is compared byte for byte).
///
/// Series appear when their first sample exists; units once exported stay (a unit that
/// disappears from sysfs keeps its last labels), so `increase()` sees the first fault.
/// The families that grow with the devices that faulted are the bulk of a scrape: they are
/// rendered again only when the ledger, the topology or the storming set changed.
final class MetricsExporter: Sendable {
    /// What the snapshot does not hold: the other sinks' and services' own figures.
    struct Extras: Sendable {
        var storming: Set<String> = []
        var journalErrors: UInt64 = 0
        var journalDroppedForBudget: UInt64 = 0
        var journalDroppedFromQueue: UInt64 = 0
        var actionFailures: UInt64 = 0
        var configReloadOK = true
        var lastCheckpointUsec: Int64?
        /// `[topology] zero_init_devices`: every device behind an IOMMU, not only those that faulted.
        var zeroInitDevices = false
    }

    struct Cache: Sendable {
        /// Units exported so far (zero-initialised series never vanish).
        var units: Set<String> = []
        var bulk: [UInt8] = []
        var bulkKey: (generation: UInt64, storming: Set<String>, zeroInit: Bool)?
    }

    let cache = Mutex(Cache())

    func render(_ s: DaemonCore.Snapshot, extras: Extras, process: ProcessStats) -> [UInt8] {
        let platform = PlatformSummary(topology: s.topology, inventory: s.ledger.inventory)
        var out = ByteSink(capacity: 16 * 1024)
        cache.withLock { c in
            let key = (s.generation, extras.storming, extras.zeroInitDevices)
            if let k = c.bulkKey, k.generation == key.0, k.storming == key.1, k.zeroInit == key.2 {
                out.append(contentsOf: c.bulk)
                return
            }
            c.units.formUnion(s.topology.units.keys)
            s.ledger.forEachSeries { k, _ in c.units.insert(k.unit) }
            var bulk = ByteSink(capacity: c.bulk.count + 1024)
            Self.renderBulk(s, units: c.units, extras: extras, into: &bulk)
            c.bulk = bulk.bytes
            c.bulkKey = key
            out.append(contentsOf: bulk.bytes)
        }
        renderRest(s, platform: platform, extras: extras, process: process, into: &out)
        return out.bytes
    }

    /// The families that grow with the devices that faulted.
    static func renderBulk(_ s: DaemonCore.Snapshot, units: Set<String>, extras: Extras, into w: inout ByteSink) {
        let l = s.ledger
        if l.hasFaults { w.family(.faults) }
        l.forEachSeries { k, v in
            w.sample(
                .faults,
                [
                    "unit": k.unit, "device": k.device, "vendor": k.vendor.rawValue, "kind": k.kind.rawValue,
                    "reason": k.reason, "recoverable": k.recoverable ? "true" : "false",
                ], v)
        }
        // Every known unit from the start, both classes, so increase() sees the first fault.
        let perUnit = l.unitFaults()
        if !units.isEmpty { w.family(.unitFaults) }
        for u in units.sorted() {
            let c = perUnit[u] ?? UnitFaults()
            w.sample(.unitFaults, ["unit": u, "recoverable": "false"], c.nonRecoverable)
            w.sample(.unitFaults, ["unit": u, "recoverable": "true"], c.recoverable)
        }
        renderExpected(l.expected, into: &w)
        let devices = l.devices.values
        if devices.contains(where: { $0.lastFaultRealtimeUsec != nil }) { w.family(.deviceLastFault) }
        for d in devices {
            guard let usec = d.lastFaultRealtimeUsec else { continue }
            w.sample(.deviceLastFault, ["device": d.device], gauge: Double(usec) / 1e6)
        }
        if !devices.isEmpty { w.family(.deviceStorm) }
        for d in devices {
            w.sample(.deviceStorm, ["device": d.device], gauge: extras.storming.contains(d.device) ? 1 : 0)
        }
        var info: [(device: String, unit: String, topology: Topology.Device?)] = devices.map {
            ($0.device, $0.unit, PCIAddress(parsing: $0.device).flatMap { s.topology.devices[$0] })
        }
        if extras.zeroInitDevices {
            for d in s.topology.devices.values.sorted(by: { $0.address < $1.address })
            where d.unit != nil && !d.gone && l.devices[d.address.description] == nil {
                info.append((d.address.description, d.unit ?? unknownLabel, d))
            }
        }
        if !info.isEmpty { w.family(.deviceInfo) }
        for (device, unit, d) in info {
            w.sample(
                .deviceInfo,
                [
                    "device": device, "unit": unit, "group": d?.group.map(String.init) ?? "",
                    "vendor_id": d?.vendorID ?? "", "device_id": d?.deviceID ?? "", "driver": d?.driver ?? "",
                    "name": d?.name ?? "",
                ], gauge: 1)
        }
    }

    /// Faults of `[[expected]]` rules, apart from `iommu_faults_total`; every configured rule's
    /// match count from the start, at 0, so a rule that never matches shows.
    static func renderExpected(_ e: ExpectedLedger, into w: inout ByteSink) {
        var any = false
        e.forEachSeries { rule, k, v in
            if !any { w.family(.expectedFaults) }
            any = true
            w.sample(
                .expectedFaults,
                [
                    "rule": rule, "unit": k.unit, "device": k.device, "vendor": k.vendor.rawValue,
                    "kind": k.kind.rawValue, "reason": k.reason, "recoverable": k.recoverable ? "true" : "false",
                ], v)
        }
        if !e.isEmpty { w.family(.expectedRuleMatches) }
        for t in e.tallies { w.sample(.expectedRuleMatches, ["rule": t.rule], t.matches) }
    }

    /// The families of a few series each.
    func renderRest(
        _ s: DaemonCore.Snapshot, platform: PlatformSummary, extras: Extras, process p: ProcessStats,
        into w: inout ByteSink
    ) {
        let l = s.ledger
        let interrupts = l.interrupts.totals.sorted { $0.key < $1.key }
        if !interrupts.isEmpty { w.family(.faultInterrupts) }
        for (k, v) in interrupts { w.sample(.faultInterrupts, ["unit": k.unit, "vector": k.vector], v) }
        let estimates = l.unitEstimates().sorted { $0.key < $1.key }
        if !estimates.isEmpty { w.family(.unitFaultsEstimate) }
        for (unit, e) in estimates {
            w.sample(.unitFaultsEstimate, ["unit": unit, "bound": "estimate"], e.value)
            w.sample(.unitFaultsEstimate, ["unit": unit, "bound": "lower"], e.lower)
            if let u = e.upper { w.sample(.unitFaultsEstimate, ["unit": unit, "bound": "upper"], u) }
        }
        if !estimates.isEmpty { w.family(.unitFaultsEstimateExact) }
        for (unit, e) in estimates { w.sample(.unitFaultsEstimateExact, ["unit": unit], e.exact ? 1 : 0) }
        if !l.suppressed.isEmpty { w.family(.faultsSuppressed) }
        for (k, v) in l.suppressed.sorted(by: { $0.key < $1.key }) { w.sample(.faultsSuppressed, ["source": k], v) }
        if !l.overflows.isEmpty { w.family(.faultOverflows) }
        for (k, v) in l.overflows.sorted(by: { $0.key < $1.key }) {
            w.sample(.faultOverflows, ["unit": k.unit, "log": k.log], v)
        }
        if !l.unitErrors.isEmpty { w.family(.unitErrors) }
        for (k, v) in l.unitErrors.sorted(by: { $0.key < $1.key }) {
            w.sample(.unitErrors, ["unit": k.unit, "what": k.what], v)
        }
        let units = s.topology.units.values.sorted { $0.name.compareNatural($1.name) }
        if !units.isEmpty { w.family(.unitInfo) }
        for u in units {
            w.sample(
                .unitInfo,
                [
                    "unit": u.name, "vendor": u.vendor.rawValue, "version": u.version ?? "", "cap": u.cap ?? "",
                    "ecap": u.ecap ?? "",
                ], gauge: 1)
        }
        w.family(.enabled)
        w.sample(.enabled, [:], gauge: platform.enabled ? 1 : 0)
        w.family(.modeInfo)
        w.sample(.modeInfo, ["mode": platform.mode], gauge: 1)
        w.family(.kmsgRecords)
        w.sample(.kmsgRecords, [:], l.records)
        w.family(.kmsgLost)
        w.sample(.kmsgLost, [:], l.lostRecords)
        w.family(.kmsgLastSeq)
        w.sample(.kmsgLastSeq, [:], gauge: Double(l.lastSeq ?? 0))
        w.family(.inputSkipped)
        w.sample(.inputSkipped, ["reason": "malformed"], l.malformedRecords)
        w.sample(.inputSkipped, ["reason": "oversized"], l.oversizedRecords)
        w.family(.devicesOverflow)
        w.sample(.devicesOverflow, [:], l.overflowFaults)
        if !l.unparsed.isEmpty { w.family(.unparsed) }
        for (k, v) in l.unparsed.sorted(by: { $0.key < $1.key }) { w.sample(.unparsed, ["vendor": k], v) }
        w.family(.journalErrors)
        w.sample(.journalErrors, [:], extras.journalErrors)
        w.family(.journalDropped)
        w.sample(.journalDropped, ["reason": "budget"], extras.journalDroppedForBudget)
        w.sample(.journalDropped, ["reason": "queue"], extras.journalDroppedFromQueue)
        w.family(.actionFailures)
        w.sample(.actionFailures, [:], extras.actionFailures)
        w.family(.configReload)
        w.sample(.configReload, [:], gauge: extras.configReloadOK ? 1 : 0)
        w.family(.checkpointSuccess)
        w.sample(.checkpointSuccess, [:], gauge: Double(extras.lastCheckpointUsec ?? 0) / 1e6)
        w.family(.buildInfo)
        w.sample(.buildInfo, ["version": BuildInfo.version, "swift": BuildInfo.swift], gauge: 1)
        w.family(.residentMemory)
        w.sample(.residentMemory, [:], gauge: p.residentBytes)
        w.family(.virtualMemory)
        w.sample(.virtualMemory, [:], gauge: p.virtualBytes)
        w.family(.cpuSeconds)
        w.sample(.cpuSeconds, [:], gauge: p.cpuSeconds)
        w.family(.openFDs)
        w.sample(.openFDs, [:], gauge: p.openFDs)
        w.family(.maxFDs)
        w.sample(.maxFDs, [:], gauge: p.maxFDs)
        w.family(.startTime)
        w.sample(.startTime, [:], gauge: p.startTimeSeconds)
    }
}

/// Prometheus text exposition (format 0.0.4) on the one byte writer.
extension ByteSink {
    /// `# HELP` and `# TYPE` of a family.
    mutating func family(_ f: MetricFamily) {
        append("# HELP " as StaticString)
        append(f.rawValue)
        append(0x20)
        for b in f.help.utf8 {
            if b == UInt8(ascii: "\\") {
                append("\\\\" as StaticString)
            } else if b == 0x0a {
                append("\\n" as StaticString)
            } else {
                append(b)
            }
        }
        append("\n# TYPE " as StaticString)
        append(f.rawValue)
        append(0x20)
        append(f.type)
        append(0x0a)
    }

    /// A counter sample: the integer, in decimal.
    mutating func sample(_ f: MetricFamily, _ labels: KeyValuePairs<StaticString, String>, _ v: UInt64) {
        head(f, labels)
        append(decimal: v)
        append(0x0a)
    }

    /// A gauge sample, as Swift prints a Double (`1.0`, `1.7e+09`).
    mutating func sample(_ f: MetricFamily, _ labels: KeyValuePairs<StaticString, String>, gauge v: Double) {
        head(f, labels)
        if v.isNaN {
            append("NaN" as StaticString)
        } else if v.isInfinite {
            append(v > 0 ? "+Inf" as StaticString : "-Inf" as StaticString)
        } else {
            append(String(v))
        }
        append(0x0a)
    }

    private mutating func head(_ f: MetricFamily, _ labels: KeyValuePairs<StaticString, String>) {
        append(f.rawValue)
        if !labels.isEmpty {
            append(UInt8(ascii: "{"))
            var first = true
            for (k, v) in labels {
                if !first { append(UInt8(ascii: ",")) }
                first = false
                append(k)
                append("=\"" as StaticString)
                labelValue(v)
                append(UInt8(ascii: "\""))
            }
            append(UInt8(ascii: "}"))
        }
        append(0x20)
    }

    /// A label value, escaped as the format requires (backslash, double quote, line feed).
    mutating func labelValue(_ v: String) {
        for b in v.utf8 {
            switch b {
            case UInt8(ascii: "\\"): append("\\\\" as StaticString)
            case UInt8(ascii: "\""): append("\\\"" as StaticString)
            case 0x0a: append("\\n" as StaticString)
            default: append(b)
            }
        }
    }
}
