import IOMMUCore

/// Renders the ledger as Prometheus text (exposition format 0.0.4) at each scrape. The ledger is
/// the source of truth. The families of a few series each go through a swift-prometheus
/// registry (`RegistryFamilies`); the ones that grow with the devices that faulted
/// (`iommu_faults_total`, `iommu_device_*`, `iommu_unit_faults_total`) are written straight from
/// the ledger into the same buffer: mirrored into the registry, every new series copied its
/// family's table — quadratic in devices — and with 4 096 devices a scrape took ~40 ms.
///
/// Family names and help texts are the contract's (ARCHITECTURE.md "Metrics"); values are
/// printed as swift-prometheus printed them (counters as integers, gauges as Swift Doubles, so
/// `1.0`). Series appear when their first sample exists; units and info series once exported
/// stay (a unit or device that disappears from sysfs keeps its last labels). Used only under
/// the daemon core's lock.
final class MetricsExporter {
    /// What the last `sync` saw; `render` writes it out.
    var ledger = FaultLedger()
    var topology = Topology()
    var platform: PlatformSummary?
    var extras = Extras(configReloadOK: true, lastCheckpointUsec: nil)
    /// Units exported so far (zero-initialised series never vanish).
    var units: Set<String> = []
    /// `iommu_device_info` label text per zero-initialised device.
    var zeroInitInfo: [String: [UInt8]] = [:]
    /// The families of a few series each, through swift-prometheus.
    let fixed = RegistryFamilies()
    /// The process start time does not change: read once.
    let startTimeSeconds = ProcessStats.startTimeSeconds()
    var lastSize = 16 * 1024

    static let help: [String: String] = [
        "iommu_faults_total":
            "IOMMU faults the kernel logged, by remapping unit, device, vendor, kind, reason and recoverability.",
        "iommu_unit_faults_total":
            "IOMMU faults logged per remapping unit and recoverability (zero-initialised for every known unit).",
        "iommu_fault_interrupts_total":
            "IOMMU fault interrupts per unit and vector from /proc/interrupts (per-CPU maxima; one interrupt may carry many faults or none).",
        "iommu_faults_suppressed_total":
            "Kernel messages dropped by the printk ratelimit ('N callbacks suppressed'), by kernel function.",
        "iommu_fault_overflows_total":
            "Hardware fault/event queue overflows (faults lost in hardware), by unit and log.",
        "iommu_device_last_fault_timestamp_seconds": "Wall-clock time of the device's last logged fault.",
        "iommu_device_storm":
            "1 while the device is in a fault storm (more than [storm] threshold faults within window), else 0.",
        "iommud_journal_errors_total": "Journal entries that could not be sent (journald not reachable).",
        "iommud_action_failures_total":
            "[actions] commands that could not start, exited non-zero, or were killed at their timeout.",
        "iommu_device_info": "Devices that faulted (or every device behind an IOMMU when zero_init_devices is on).",
        "iommu_unit_info": "IOMMU remapping units from sysfs.",
        "iommu_enabled": "1 when DMA remapping is active (translated or passthrough).",
        "iommu_mode_info": "The IOMMU mode: translated, passthrough, off or unknown.",
        "iommud_kmsg_records_total": "Kernel log records read by iommud.",
        "iommud_kmsg_lost_records_total":
            "Kernel log records iommud never saw (ring buffer overruns, gaps across restarts and boots).",
        "iommud_kmsg_last_seq": "Sequence number of the last kernel log record read.",
        "iommud_unparsed_iommu_lines_total":
            "Kernel lines that looked like IOMMU messages but matched no known format.",
        "iommud_build_info": "iommud version and the Swift compiler it was built with.",
        "iommud_config_last_reload_successful": "1 when the last configuration (re)load succeeded.",
        "iommud_checkpoint_last_success_timestamp_seconds": "Wall-clock time of the last successful checkpoint write.",
        "process_resident_memory_bytes": "Resident memory size in bytes.",
        "process_virtual_memory_bytes": "Virtual memory size in bytes.",
        "process_cpu_seconds_total": "Total user and system CPU time spent in seconds.",
        "process_open_fds": "Number of open file descriptors.",
        "process_max_fds": "Maximum number of open file descriptors.",
        "process_start_time_seconds": "Start time of the process since unix epoch in seconds.",
    ]

    struct Extras {
        var configReloadOK: Bool
        var lastCheckpointUsec: Int64?
        /// Devices in a fault storm now.
        var storming: Set<String> = []
        var journalErrors: UInt64 = 0
        var actionFailures: UInt64 = 0
        /// `[topology] zero_init_devices`: every device behind an IOMMU, not only those that faulted.
        var zeroInitDevices = false
        /// Changes whenever the ledger or the topology may have (DaemonCore counts them); nil:
        /// unknown, render everything.
        var generation: UInt64?
    }

    /// The per-fault-key and per-device families — the bulk of a scrape — as rendered for
    /// `extras.generation` and the storming set: a scrape with no new fault since the last one
    /// reuses them, and renders only the few dozen other series.
    var bulk: [UInt8] = []
    var bulkKey: (generation: UInt64, storming: Set<String>)?
    var syncedGeneration: UInt64?

    /// Takes the state to render (copy-on-write: no copy unless it changes meanwhile).
    func sync(ledger: FaultLedger, topology: Topology, platform: PlatformSummary, extras: Extras) {
        self.ledger = ledger
        self.topology = topology
        self.platform = platform
        self.extras = extras
        // Units and info labels change only with the ledger or the topology.
        if let g = extras.generation, g == syncedGeneration { return }
        syncedGeneration = extras.generation
        units.formUnion(topology.units.keys)
        ledger.forEachSeries { k, _ in units.insert(k.unit) }
        for u in topology.units.values {
            fixed.info(
                "iommu_unit_info", key: u.name,
                [
                    ("unit", u.name), ("vendor", u.vendor.rawValue), ("version", u.version ?? ""), ("cap", u.cap ?? ""),
                    ("ecap", u.ecap ?? ""),
                ])
        }
        if extras.zeroInitDevices {
            for d in topology.devices.values where d.unit != nil && !d.gone {
                let name = d.address.description
                guard ledger.devices[name] == nil else { continue }
                var w = TextWriter()
                w.deviceInfoLabels(device: name, unit: d.unit ?? unknownLabel, topology: d)
                zeroInitInfo[name] = w.out
            }
        }
    }

    func render() -> [UInt8] {
        var w = TextWriter()
        w.out.reserveCapacity(lastSize + lastSize / 8)
        if let g = extras.generation, let k = bulkKey, k.generation == g, k.storming == extras.storming {
            w.out.append(contentsOf: bulk)
        } else {
            let start = w.out.count
            renderBulk(into: &w)
            if let g = extras.generation {
                bulk = Array(w.out[start...])
                bulkKey = (g, extras.storming)
            }
        }
        renderRest(into: &w)
        lastSize = w.out.count
        return w.out
    }

    func renderBulk(into w: inout TextWriter) {
        let l = ledger
        w.family("iommu_faults_total", "counter", present: l.hasFaults)
        l.forEachSeries { k, v in
            w.sample(
                "iommu_faults_total",
                [
                    "unit": k.unit, "device": k.device, "vendor": k.vendor.rawValue, "kind": k.kind.rawValue,
                    "reason": k.reason, "recoverable": k.recoverable ? "true" : "false",
                ], v)
        }
        // Every known unit from the start, both classes, so increase() sees the first fault.
        let perUnit = l.unitFaults()
        w.family("iommu_unit_faults_total", "counter", present: !units.isEmpty)
        for u in units {
            let c = perUnit[u] ?? UnitFaults()
            w.sample("iommu_unit_faults_total", ["unit": u, "recoverable": "false"], c.nonRecoverable)
            w.sample("iommu_unit_faults_total", ["unit": u, "recoverable": "true"], c.recoverable)
        }
        w.family(
            "iommu_device_last_fault_timestamp_seconds", "gauge",
            present: l.devices.values.contains { $0.lastFaultRealtimeUsec != nil })
        for d in l.devices.values {
            guard let usec = d.lastFaultRealtimeUsec else { continue }
            w.sample("iommu_device_last_fault_timestamp_seconds", ["device": d.device], gauge: Double(usec) / 1e6)
        }
        w.family("iommu_device_storm", "gauge", present: !l.devices.isEmpty)
        for d in l.devices.values {
            w.sample("iommu_device_storm", ["device": d.device], gaugeFlag: extras.storming.contains(d.device))
        }
        w.family("iommu_device_info", "gauge", present: !l.devices.isEmpty || !zeroInitInfo.isEmpty)
        for d in l.devices.values {
            w.raw("iommu_device_info{")
            w.deviceInfoLabels(
                device: d.device, unit: d.unit, topology: PCIAddress(parsing: d.device).flatMap { topology.devices[$0] }
            )
            w.raw("} 1.0\n")
        }
        for (name, labels) in zeroInitInfo where l.devices[name] == nil {
            w.raw("iommu_device_info{")
            w.out.append(contentsOf: labels)
            w.raw("} 1.0\n")
        }
    }

    /// The fixed families: brought up to the ledger in the registry, then emitted by it.
    func renderRest(into w: inout TextWriter) {
        let l = ledger
        let f = fixed
        for (k, v) in l.interrupts.totals {
            f.counter("iommu_fault_interrupts_total", [("unit", k.unit), ("vector", k.vector)], v)
        }
        for (k, v) in l.suppressed { f.counter("iommu_faults_suppressed_total", [("source", k)], v) }
        for (k, v) in l.overflows { f.counter("iommu_fault_overflows_total", [("unit", k.unit), ("log", k.log)], v) }
        for (k, v) in l.unparsed { f.counter("iommud_unparsed_iommu_lines_total", [("vendor", k)], v) }
        f.gauge("iommu_enabled", (platform?.enabled ?? false) ? 1 : 0)
        if let mode = platform?.mode { f.info("iommu_mode_info", key: "mode", [("mode", mode)]) }
        f.counter("iommud_kmsg_records_total", l.records)
        f.counter("iommud_kmsg_lost_records_total", l.lostRecords)
        f.counter("iommud_journal_errors_total", extras.journalErrors)
        f.counter("iommud_action_failures_total", extras.actionFailures)
        f.gauge("iommud_kmsg_last_seq", Double(l.lastSeq ?? 0))
        f.gauge("iommud_config_last_reload_successful", extras.configReloadOK ? 1 : 0)
        f.gauge("iommud_checkpoint_last_success_timestamp_seconds", Double(extras.lastCheckpointUsec ?? 0) / 1e6)
        f.info("iommud_build_info", key: "", [("version", BuildInfo.version), ("swift", BuildInfo.swift)])
        let p = ProcessStats.read()
        f.gauge("process_resident_memory_bytes", p.residentBytes)
        f.gauge("process_virtual_memory_bytes", p.virtualBytes)
        f.gauge("process_open_fds", p.openFDs)
        f.gauge("process_max_fds", p.maxFDs)
        f.gauge("process_start_time_seconds", startTimeSeconds)
        f.cpuSeconds(p.cpuSeconds)
        f.emit(into: &w.out)
    }
}

/// Appends Prometheus text to a byte buffer: no String per series, label values escaped as the
/// format requires (backslash, double quote, line feed).
struct TextWriter {
    var out: [UInt8] = []

    @inline(__always)
    mutating func raw(_ s: StaticString) {
        out.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    /// `# HELP` and `# TYPE` of a family, when it has samples.
    mutating func family(_ name: String, _ type: StaticString, present: Bool = true) {
        guard present else { return }
        raw("# HELP ")
        out.append(contentsOf: name.utf8)
        raw(" ")
        for b in (MetricsExporter.help[name] ?? name).utf8 {
            if b == UInt8(ascii: "\\") { raw("\\\\") } else { out.append(b) }
        }
        raw("\n# TYPE ")
        out.append(contentsOf: name.utf8)
        raw(" ")
        raw(type)
        raw("\n")
    }

    mutating func labels(_ labels: KeyValuePairs<StaticString, String>) {
        var first = true
        for (k, v) in labels {
            if !first { raw(",") }
            first = false
            raw(k)
            raw("=\"")
            value(v)
            raw("\"")
        }
    }

    mutating func value(_ v: String) {
        let plain = v.withBytes { b -> Bool in
            guard !b.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") || $0 == 0x0a }) else {
                return false
            }
            out.append(contentsOf: b)
            return true
        }
        if plain { return }
        for b in v.utf8 {
            switch b {
            case UInt8(ascii: "\\"): raw("\\\\")
            case UInt8(ascii: "\""): raw("\\\"")
            case 0x0a: raw("\\n")
            default: out.append(b)
            }
        }
    }

    mutating func head(_ name: String, _ l: KeyValuePairs<StaticString, String>) {
        out.append(contentsOf: name.utf8)
        if !l.isEmpty {
            raw("{")
            labels(l)
            raw("}")
        }
        raw(" ")
    }

    /// A counter sample: the integer, in decimal.
    mutating func sample(_ name: String, _ l: KeyValuePairs<StaticString, String>, _ v: UInt64) {
        head(name, l)
        decimal(v)
        raw("\n")
    }

    mutating func sample(_ name: String, _ l: KeyValuePairs<StaticString, String>, gauge v: Double) {
        head(name, l)
        out.append(contentsOf: "\(v)".utf8)
        raw("\n")
    }

    mutating func sample(_ name: String, _ l: KeyValuePairs<StaticString, String>, gaugeFlag v: Bool) {
        head(name, l)
        if v { raw("1.0\n") } else { raw("0.0\n") }
    }

    mutating func decimal(_ v: UInt64) {
        if v < 10 {
            out.append(UInt8(ascii: "0") + UInt8(v))
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { d in
            var n = v
            var i = 20
            while n > 0 {
                i -= 1
                d[i] = UInt8(ascii: "0") + UInt8(n % 10)
                n /= 10
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: d[i..<20]))
        }
    }

    mutating func deviceInfoLabels(device: String, unit: String, topology d: Topology.Device?) {
        labels([
            "device": device, "unit": unit, "group": d?.group.map(String.init) ?? "",
            "vendor_id": d?.vendorID ?? "", "device_id": d?.deviceID ?? "", "driver": d?.driver ?? "",
            "name": d?.name ?? "",
        ])
    }
}
