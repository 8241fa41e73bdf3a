/// AMD-Vi IO_PAGE_FAULT and SMMUv3 events: one ratelimit call per event, so the events behind
/// the ratelimit are `printed + Σ N` exactly — once every window's `N callbacks suppressed` is
/// printed (docs/kernel-formats.md §6.4). The kernel prints a window's N only with that state's
/// next allowed call after the interval, so a window that printed `burst` events may have refused
/// more whose count is not known yet, or ever. This tracks each ratelimit state's open window
/// from the printed events' timestamps, to say when such a count may be pending:
///
/// * AMD-Vi: `dev_data->rs`, one state per device (the `pci … : Event logged [IO_PAGE_FAULT
///   domain=…` form), and the fallback call site shared by every device without `dev_data`
///   (the `Event logged [IO_PAGE_FAULT device=…` form).
/// * SMMUv3: one static state for every unit (`arm_smmu_evtq_thread()`, v6.14+
///   `arm_smmu_dump_event()`). Kernels before ~5.13 print every event; a storm on them still
///   reads as "may be pending" here (the log does not say which kernel wrote it).
///
/// Pure; the ledger feeds it every fault it counts and saves it in the checkpoint.
public struct EventRatelimitWindows: Sendable, Equatable {
    /// DEFAULT_RATELIMIT_BURST / DEFAULT_RATELIMIT_INTERVAL, which both families use.
    public static let burst: UInt64 = 10
    public static let intervalUsec: UInt64 = 5_000_000
    /// A printed line's timestamp comes a little after the jiffy its window began at: a line less
    /// than this past the interval may still be in the same window (counted in it: the safe side).
    public static let slackUsec: UInt64 = 25_000
    /// States tracked at most (AMD has one per faulting device); past it, a pending count can no
    /// longer be ruled out for that family.
    public static let stateLimit = 4096

    /// The `<function>` of the families' `N callbacks suppressed` lines that count events, one
    /// call each.
    public static let eventSources: [Vendor: [String]] = [
        .amd: ["amd_iommu_report_page_fault"],
        .armSMMUv3: ["arm_smmu_evtq_thread", "arm_smmu_dump_event"],
    ]

    public struct StateKey: Sendable, Hashable, Comparable {
        public var vendor: Vendor
        /// A device (AMD), `fallback` (AMD without dev_data) or `evtq` (SMMUv3).
        public var state: String

        public static func < (a: StateKey, b: StateKey) -> Bool {
            a.vendor != b.vendor ? a.vendor < b.vendor : a.state < b.state
        }
    }

    public struct Window: Sendable, Equatable {
        /// Timestamp of the window's first printed event; nil: not known (no timestamps).
        public var startUsec: UInt64?
        /// Events printed in it.
        public var printed: UInt64
    }

    public internal(set) var windows: [StateKey: Window] = [:]
    /// Families whose windows are not all known (too many states, or a checkpoint from before
    /// they were saved while the family had faults): a count may be pending.
    public internal(set) var unknown: Set<Vendor> = []

    public init() {}

    /// Faults of this vendor and kind are printed through one of these states.
    static func isRatelimited(_ vendor: Vendor, _ kind: FaultKind) -> Bool {
        (vendor == .amd && kind == "io-page-fault") || (vendor == .armSMMUv3 && kind != FaultKind.pageRequest)
    }

    /// The state a counted fault's printing went through; nil: not ratelimited this way.
    static func state(of f: Fault) -> StateKey? {
        guard isRatelimited(f.vendor, f.kind) else { return nil }
        switch f.vendor {
        case .amd:
            let fallback = f.text.contains("IO_PAGE_FAULT device=")
            return StateKey(vendor: .amd, state: fallback ? "fallback" : f.deviceLabel ?? "fallback")
        case .armSMMUv3:
            return StateKey(vendor: .armSMMUv3, state: "evtq")
        default:
            return nil
        }
    }

    mutating func observe(_ f: Fault) {
        guard let key = Self.state(of: f) else { return }
        observe(key, tsUsec: f.timestampUsec)
    }

    mutating func observe(_ key: StateKey, tsUsec: UInt64?) {
        guard var w = windows[key] else {
            if windows.count >= Self.stateLimit {
                unknown.insert(key.vendor)
                return
            }
            windows[key] = Window(startUsec: tsUsec, printed: 1)
            return
        }
        // A new window only when the line is surely past the interval; without timestamps, the
        // window never ends (every line counts toward `burst`).
        let end = w.startUsec?.saturatingAdd(Self.intervalUsec).saturatingAdd(Self.slackUsec)
        if let t = tsUsec, let end, t >= end {
            w = Window(startUsec: t, printed: 1)
        } else {
            w.printed = w.printed.saturatingAdd(1)
        }
        windows[key] = w
    }

    /// A window of the family printed `burst` events and its suppressed count is not in yet.
    public func pending(_ vendor: Vendor) -> Bool {
        unknown.contains(vendor) || windows.contains { $0.key.vendor == vendor && $0.value.printed >= Self.burst }
    }

    mutating func markUnknown(_ vendor: Vendor) { unknown.insert(vendor) }

    mutating func restore(_ key: StateKey, _ w: Window) {
        if windows.count < Self.stateLimit || windows[key] != nil {
            windows[key] = w
        } else {
            unknown.insert(key.vendor)
        }
    }
}

extension FaultLedger {
    /// `N callbacks suppressed` of the family's event call sites (one event each), and of its
    /// other call sites (which may or may not be faults).
    func eventSuppressed(_ vendor: Vendor) -> (events: UInt64, other: UInt64) {
        let sources = EventRatelimitWindows.eventSources[vendor] ?? []
        var events: UInt64 = 0
        for s in sources { events = events.saturatingAdd(suppressed[s] ?? 0) }
        return (events, suppressed(for: vendor) &- min(suppressed(for: vendor), events))
    }

    /// Per unit, the faults that happened behind the kernel's ratelimit: Intel from the model of
    /// `dmar_fault()` (Estimator/), AMD-Vi and SMMUv3 as logged + Σ N (one call per event).
    public func unitEstimates() -> [String: DMARFaultEstimator.Estimate] {
        var out = dmarEstimator.isEmpty ? [:] : dmarEstimator.estimates()
        let perUnit = unitFaults()
        let expectedPerUnit = expected.unitFaults()
        for vendor in [Vendor.amd, .armSMMUv3] {
            var happened: [String: UInt64] = [:]
            for (unit, c) in perUnit { if let n = c.byVendor[vendor], n > 0 { happened.add(n, to: unit) } }
            for (unit, c) in expectedPerUnit { if let n = c.byVendor[vendor], n > 0 { happened.add(n, to: unit) } }
            guard !happened.isEmpty else { continue }
            // The units whose faults went through the ratelimit, and how many: N is theirs.
            var limited: [String: UInt64] = [:]
            let add = { (k: FaultCounterKey, v: UInt64) in
                if k.vendor == vendor && EventRatelimitWindows.isRatelimited(vendor, k.kind) {
                    limited.add(v, to: k.unit)
                }
            }
            forEachSeries(add)
            expected.forEachSeries { _, k, v in add(k, v) }
            let (events, other) = eventSuppressed(vendor)
            let all = limited.values.reduce(UInt64(0)) { $0.saturatingAdd($1) }
            for (unit, h) in happened where out[unit] == nil {
                out[unit] = eventEstimate(
                    vendor: vendor, happened: h, limited: limited[unit] ?? 0, allLimited: all,
                    limitedUnits: max(1, limited.count), events: events, other: other,
                    overflow: overflowSeen(vendor: vendor, unit: unit))
            }
        }
        return out
    }

    func eventEstimate(
        vendor: Vendor, happened: UInt64, limited: UInt64, allLimited: UInt64, limitedUnits: Int, events: UInt64,
        other: UInt64, overflow: Bool
    ) -> DMARFaultEstimator.Estimate {
        let pending = eventWindows.pending(vendor)
        var reasons: [String] = []
        let value: UInt64
        let lower: UInt64
        if limitedUnits == 1 {
            // One unit printed through the ratelimit (or none did): N is all its own.
            let own = limited > 0 || allLimited == 0 ? events : 0
            value = happened.saturatingAdd(own)
            lower = value
        } else {
            // N names no unit: each unit gets its share of it, by its ratelimited faults.
            // events × limited / allLimited, in full width: limited ≤ allLimited, so it fits.
            var share: UInt64 = 0
            if allLimited > 0 && limited <= allLimited {
                share = allLimited.dividingFullWidth(events.multipliedFullWidth(by: limited)).quotient
            }
            value = happened.saturatingAdd(min(share, events))
            lower = happened
            reasons.append(
                "\(limitedUnits) units of this family printed through the ratelimit and `N callbacks suppressed` names none: the value gives each its share of N"
            )
        }
        var upper: UInt64? = happened.saturatingAdd(events).saturatingAdd(other)
        if other > 0 {
            reasons.append(
                "\(other) suppressed message(s) of other \(vendor.rawValue) call sites: they may be events too")
        }
        if pending {
            reasons.append(
                "a ratelimit state used all its \(EventRatelimitWindows.burst) calls in its last window and its suppressed count is not printed yet (it comes with that state's next event at least 5 s later, or never)"
            )
            upper = nil
        }
        if lostRecords > 0 {
            reasons.append("\(lostRecords) kmsg record(s) were never read (ring overrun or gap)")
            upper = nil
        }
        if overflow {
            reasons.append("the event log overflowed: the hardware dropped events it could not record, in any number")
            upper = nil
        }
        let exact = reasons.isEmpty
        let condition =
            exact
            ? "exact: one ratelimit call per event, and every window's suppressed count is in (or none was due)"
            : reasons.joined(separator: "; ")
        return DMARFaultEstimator.Estimate(
            value: value, lower: lower, upper: exact ? value : upper, exact: exact, condition: condition)
    }
}
