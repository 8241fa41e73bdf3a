/// Every metric family iommud exports (ARCHITECTURE.md "Metrics", *contract*): name, type and
/// help text, in the order a scrape shows them. The exporter writes families only from this
/// table, so a family cannot appear without its help text, and `/metrics` is the same bytes
/// for the same state.
enum MetricFamily: String, CaseIterable, Sendable {
    case faults = "iommu_faults_total"
    case unitFaults = "iommu_unit_faults_total"
    case expectedFaults = "iommu_expected_faults_total"
    case expectedRuleMatches = "iommud_expected_rule_matches_total"
    case faultInterrupts = "iommu_fault_interrupts_total"
    case unitFaultsEstimate = "iommu_unit_faults_estimate"
    case unitFaultsEstimateExact = "iommu_unit_faults_estimate_exact"
    case faultsSuppressed = "iommu_faults_suppressed_total"
    case faultOverflows = "iommu_fault_overflows_total"
    case unitErrors = "iommu_unit_errors_total"
    case deviceLastFault = "iommu_device_last_fault_timestamp_seconds"
    case deviceStorm = "iommu_device_storm"
    case deviceInfo = "iommu_device_info"
    case unitInfo = "iommu_unit_info"
    case enabled = "iommu_enabled"
    case modeInfo = "iommu_mode_info"
    case kmsgRecords = "iommud_kmsg_records_total"
    case kmsgLost = "iommud_kmsg_lost_records_total"
    case kmsgLastSeq = "iommud_kmsg_last_seq"
    case inputSkipped = "iommud_input_skipped_total"
    case devicesOverflow = "iommud_device_limit_faults_total"
    case unparsed = "iommud_unparsed_iommu_lines_total"
    case journalErrors = "iommud_journal_errors_total"
    case journalDropped = "iommud_journal_dropped_total"
    case actionFailures = "iommud_action_failures_total"
    case configReload = "iommud_config_last_reload_successful"
    case checkpointSuccess = "iommud_checkpoint_last_success_timestamp_seconds"
    case buildInfo = "iommud_build_info"
    case residentMemory = "process_resident_memory_bytes"
    case virtualMemory = "process_virtual_memory_bytes"
    case cpuSeconds = "process_cpu_seconds_total"
    case openFDs = "process_open_fds"
    case maxFDs = "process_max_fds"
    case startTime = "process_start_time_seconds"

    var type: StaticString {
        switch self {
        case .faults, .unitFaults, .expectedFaults, .expectedRuleMatches, .faultInterrupts, .faultsSuppressed,
            .faultOverflows, .unitErrors, .kmsgRecords,
            .kmsgLost, .inputSkipped, .devicesOverflow, .unparsed, .journalErrors, .journalDropped, .actionFailures,
            .cpuSeconds:
            return "counter"
        default:
            return "gauge"
        }
    }

    var help: String {
        switch self {
        case .faults:
            return "IOMMU faults the kernel logged, by remapping unit, device, vendor, kind, reason and recoverability."
        case .unitFaults:
            return "IOMMU faults logged per remapping unit and recoverability (zero-initialised for every known unit)."
        case .expectedFaults:
            return
                "IOMMU faults that matched an [[expected]] rule of iommud.toml, by rule and the labels of iommu_faults_total (which leaves them out)."
        case .expectedRuleMatches:
            return
                "Faults counted under each [[expected]] rule since boot (0 from the start for every configured rule: one that never matches may be stale)."
        case .faultInterrupts:
            return
                "IOMMU fault interrupts per unit and vector from /proc/interrupts (per-CPU maxima; one interrupt may carry many faults or none)."
        case .unitFaultsEstimate:
            return
                "Faults that happened behind the kernel's printk ratelimit: Intel VT-d fault records estimated from the printed lines, the suppressed counts and the fault interrupts; AMD-Vi and SMMUv3 events as logged + suppressed (one call per event); bound=estimate, lower, upper (no upper series while unbounded)."
        case .unitFaultsEstimateExact:
            return
                "1 when iommu_unit_faults_estimate is exact (determined by the model), else 0; iommud status says why."
        case .faultsSuppressed:
            return "Kernel messages dropped by the printk ratelimit ('N callbacks suppressed'), by kernel function."
        case .faultOverflows: return "Hardware fault/event queue overflows (faults lost in hardware), by unit and log."
        case .unitErrors:
            return "IOMMU unit-level errors (global errors, queue and command errors), by unit and what happened."
        case .deviceLastFault: return "Wall-clock time of the device's last logged fault."
        case .deviceStorm:
            return "1 while the device is in a fault storm (more than [storm] threshold faults within window), else 0."
        case .deviceInfo: return "Devices that faulted (or every device behind an IOMMU when zero_init_devices is on)."
        case .unitInfo: return "IOMMU remapping units from sysfs."
        case .enabled: return "1 when DMA remapping is active (translated or passthrough)."
        case .modeInfo: return "The IOMMU mode: translated, passthrough, off or unknown."
        case .kmsgRecords: return "Kernel log records read by iommud."
        case .kmsgLost:
            return "Kernel log records iommud never saw (ring buffer overruns, gaps across restarts and boots)."
        case .kmsgLastSeq: return "Sequence number of the last kernel log record read."
        case .inputSkipped:
            return "Input skipped by reason: malformed (not a kernel record) or oversized (over the size limit)."
        case .devicesOverflow:
            return
                "Faults of devices beyond [topology] max_devices, counted under device=\"overflow\" in iommu_faults_total."
        case .unparsed: return "Kernel lines that looked like IOMMU messages but matched no known format."
        case .journalErrors: return "Journal entries that could not be sent (journald not reachable)."
        case .journalDropped:
            return
                "Journal entries not written: over the [storm] journal_max_per_second budget, or pushed out of a full queue."
        case .actionFailures:
            return "[actions] commands that could not start, exited non-zero, or were killed at their timeout."
        case .configReload: return "1 when the last configuration (re)load succeeded."
        case .checkpointSuccess: return "Wall-clock time of the last successful checkpoint write."
        case .buildInfo: return "iommud version and the Swift compiler it was built with."
        case .residentMemory: return "Resident memory size in bytes."
        case .virtualMemory: return "Virtual memory size in bytes."
        case .cpuSeconds: return "Total user and system CPU time spent in seconds."
        case .openFDs: return "Number of open file descriptors."
        case .maxFDs: return "Maximum number of open file descriptors."
        case .startTime: return "Start time of the process since unix epoch in seconds."
        }
    }
}
