import IOMMUCore
import Prometheus

/// Maps the ledger into a swift-prometheus registry. The ledger stays the source of truth;
/// at each scrape this brings every series up to the ledger's value (counters by their delta),
/// creating series as they first appear. Family names and help texts are the contract's
/// (ARCHITECTURE.md "Metrics"). Used only under the daemon core's lock.
final class MetricsExporter {
    let registry = PrometheusCollectorRegistry()

    var faultCounters: [FaultCounterKey: (Counter, UInt64)] = [:]
    var unitCounters: [String: (Counter, UInt64)] = [:]
    var interruptCounters: [InterruptKey: (Counter, UInt64)] = [:]
    var suppressedCounters: [String: (Counter, UInt64)] = [:]
    var overflowCounters: [OverflowKey: (Counter, UInt64)] = [:]
    var unparsedCounters: [String: (Counter, UInt64)] = [:]
    var lastFaultGauges: [String: Gauge] = [:]
    var stormGauges: [String: Gauge] = [:]
    var deviceInfo: [String: (Gauge, [(String, String)])] = [:]
    var unitInfo: [String: (Gauge, [(String, String)])] = [:]
    var modeInfo: (Gauge, String)?
    var scalarCounters: [String: (Counter, UInt64)] = [:]

    let enabled: Gauge
    let lastSeq: Gauge
    let configReload: Gauge
    let checkpointSuccess: Gauge
    let processGauges: [String: Gauge]
    let processCPU: Counter
    var processCPUSeconds: Double = 0

    static func d(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

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
        "iommud_unparsed_iommu_lines_total": "Kernel lines that looked like IOMMU messages but matched no known format.",
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

    init() {
        let r = registry
        func h(_ n: String) -> String { MetricsExporter.help[n] ?? n }
        enabled = r.makeGauge(descriptor: Self.d("iommu_enabled", h("iommu_enabled")))
        lastSeq = r.makeGauge(descriptor: Self.d("iommud_kmsg_last_seq", h("iommud_kmsg_last_seq")))
        configReload = r.makeGauge(
            descriptor: Self.d("iommud_config_last_reload_successful", h("iommud_config_last_reload_successful")))
        checkpointSuccess = r.makeGauge(
            descriptor: Self.d(
                "iommud_checkpoint_last_success_timestamp_seconds", h("iommud_checkpoint_last_success_timestamp_seconds")))
        var pg: [String: Gauge] = [:]
        for n in [
            "process_resident_memory_bytes", "process_virtual_memory_bytes", "process_open_fds", "process_max_fds",
            "process_start_time_seconds",
        ] {
            pg[n] = r.makeGauge(descriptor: Self.d(n, h(n)))
        }
        processGauges = pg
        processCPU = r.makeCounter(descriptor: Self.d("process_cpu_seconds_total", h("process_cpu_seconds_total")))
        r.makeGauge(
            descriptor: Self.d("iommud_build_info", h("iommud_build_info")),
            labels: [("version", BuildInfo.version), ("swift", BuildInfo.swift)]
        ).set(Int64(1))
        for n in [
            "iommud_kmsg_records_total", "iommud_kmsg_lost_records_total", "iommud_journal_errors_total",
            "iommud_action_failures_total",
        ] {
            scalarCounters[n] = (r.makeCounter(descriptor: Self.d(n, h(n))), 0)
        }
    }

    /// Brings a counter to `value`.
    static func advance(_ entry: inout (Counter, UInt64), to value: UInt64) {
        if value > entry.1 {
            entry.0.increment(by: Int64(value - entry.1))
            entry.1 = value
        }
    }

    func counter<K: Hashable>(
        _ table: inout [K: (Counter, UInt64)], _ key: K, _ name: String, _ labels: [(String, String)], _ value: UInt64
    ) {
        if table[key] == nil {
            table[key] = (registry.makeCounter(descriptor: Self.d(name, Self.help[name]!), labels: labels), 0)
        }
        Self.advance(&table[key]!, to: value)
    }

    struct Extras {
        var configReloadOK: Bool
        var lastCheckpointUsec: Int64?
        /// Devices in a fault storm now.
        var storming: Set<String> = []
        var journalErrors: UInt64 = 0
        var actionFailures: UInt64 = 0
        /// `[topology] zero_init_devices`: every device behind an IOMMU, not only those that faulted.
        var zeroInitDevices = false
    }

    func sync(ledger: FaultLedger, topology: Topology, platform: PlatformSummary, extras: Extras) {
        for (k, v) in ledger.faults {
            counter(
                &faultCounters, k, "iommu_faults_total",
                [
                    ("unit", k.unit), ("device", k.device), ("vendor", k.vendor.rawValue), ("kind", k.kind.rawValue),
                    ("reason", k.reason), ("recoverable", k.recoverable ? "true" : "false"),
                ], v)
        }
        // Every known unit from the start, both classes, so increase() sees the first fault.
        let perUnit = ledger.unitFaults()
        var unitNames = Set(topology.units.keys)
        unitNames.formUnion(perUnit.keys)
        for u in unitNames {
            let c = perUnit[u] ?? (0, 0)
            counter(&unitCounters, u + "\u{0}false", "iommu_unit_faults_total", [("unit", u), ("recoverable", "false")], c.nonRecoverable)
            counter(&unitCounters, u + "\u{0}true", "iommu_unit_faults_total", [("unit", u), ("recoverable", "true")], c.recoverable)
        }
        for (k, v) in ledger.interrupts.totals {
            counter(&interruptCounters, k, "iommu_fault_interrupts_total", [("unit", k.unit), ("vector", k.vector)], v)
        }
        for (k, v) in ledger.suppressed {
            counter(&suppressedCounters, k, "iommu_faults_suppressed_total", [("source", k)], v)
        }
        for (k, v) in ledger.overflows {
            counter(&overflowCounters, k, "iommu_fault_overflows_total", [("unit", k.unit), ("log", k.log)], v)
        }
        for (k, v) in ledger.unparsed {
            counter(&unparsedCounters, k, "iommud_unparsed_iommu_lines_total", [("vendor", k)], v)
        }
        if extras.zeroInitDevices {
            for d in topology.devices.values where d.unit != nil && !d.gone && ledger.devices[d.address.description] == nil {
                setInfo(
                    &deviceInfo, d.address.description, "iommu_device_info",
                    [
                        ("device", d.address.description), ("unit", d.unit ?? unknownLabel),
                        ("group", d.group.map(String.init) ?? ""), ("vendor_id", d.vendorID ?? ""),
                        ("device_id", d.deviceID ?? ""), ("driver", d.driver ?? ""), ("name", d.name ?? ""),
                    ])
            }
        }
        for d in ledger.devices.values {
            if let usec = d.lastFaultRealtimeUsec {
                let g =
                    lastFaultGauges[d.device]
                    ?? registry.makeGauge(
                        descriptor: Self.d(
                            "iommu_device_last_fault_timestamp_seconds", Self.help["iommu_device_last_fault_timestamp_seconds"]!),
                        labels: [("device", d.device)])
                lastFaultGauges[d.device] = g
                g.set(Double(usec) / 1e6)
            }
            let storm =
                stormGauges[d.device]
                ?? registry.makeGauge(
                    descriptor: Self.d("iommu_device_storm", Self.help["iommu_device_storm"]!), labels: [("device", d.device)])
            stormGauges[d.device] = storm
            storm.set(Int64(extras.storming.contains(d.device) ? 1 : 0))
            let topo = PCIAddress(parsing: d.device).flatMap { topology.devices[$0] }
            setInfo(
                &deviceInfo, d.device, "iommu_device_info",
                [
                    ("device", d.device), ("unit", d.unit), ("group", topo?.group.map(String.init) ?? ""),
                    ("vendor_id", topo?.vendorID ?? ""), ("device_id", topo?.deviceID ?? ""),
                    ("driver", topo?.driver ?? ""), ("name", topo?.name ?? ""),
                ])
        }
        for u in topology.units.values {
            setInfo(
                &unitInfo, u.name, "iommu_unit_info",
                [
                    ("unit", u.name), ("vendor", u.vendor.rawValue), ("version", u.version ?? ""), ("cap", u.cap ?? ""),
                    ("ecap", u.ecap ?? ""),
                ])
        }
        enabled.set(Int64(platform.enabled ? 1 : 0))
        if modeInfo?.1 != platform.mode {
            if let old = modeInfo { registry.unregisterGauge(old.0) }
            let g = registry.makeGauge(
                descriptor: Self.d("iommu_mode_info", Self.help["iommu_mode_info"]!), labels: [("mode", platform.mode)])
            g.set(Int64(1))
            modeInfo = (g, platform.mode)
        }
        Self.advance(&scalarCounters["iommud_kmsg_records_total"]!, to: ledger.records)
        Self.advance(&scalarCounters["iommud_kmsg_lost_records_total"]!, to: ledger.lostRecords)
        Self.advance(&scalarCounters["iommud_journal_errors_total"]!, to: extras.journalErrors)
        Self.advance(&scalarCounters["iommud_action_failures_total"]!, to: extras.actionFailures)
        lastSeq.set(Double(ledger.lastSeq ?? 0))
        configReload.set(Int64(extras.configReloadOK ? 1 : 0))
        checkpointSuccess.set(Double(extras.lastCheckpointUsec ?? 0) / 1e6)
        let p = ProcessStats.read()
        processGauges["process_resident_memory_bytes"]!.set(p.residentBytes)
        processGauges["process_virtual_memory_bytes"]!.set(p.virtualBytes)
        processGauges["process_open_fds"]!.set(p.openFDs)
        processGauges["process_max_fds"]!.set(p.maxFDs)
        processGauges["process_start_time_seconds"]!.set(p.startTimeSeconds)
        if p.cpuSeconds > processCPUSeconds {
            processCPU.increment(by: p.cpuSeconds - processCPUSeconds)
            processCPUSeconds = p.cpuSeconds
        }
    }

    /// An info gauge whose labels may change (driver rebinds, rescans): re-registered then.
    func setInfo(_ table: inout [String: (Gauge, [(String, String)])], _ key: String, _ name: String, _ labels: [(String, String)]) {
        if let old = table[key] {
            if old.1.elementsEqual(labels, by: { $0 == $1 }) { return }
            registry.unregisterGauge(old.0)
        }
        let g = registry.makeGauge(descriptor: Self.d(name, Self.help[name]!), labels: labels)
        g.set(Int64(1))
        table[key] = (g, labels)
    }

    func render() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(16 * 1024)
        registry.emit(into: &out)
        return out
    }
}
