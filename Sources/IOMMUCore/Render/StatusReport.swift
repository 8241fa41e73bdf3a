/// Facts about the running daemon for `status` (absent for `replay`).
public struct DaemonInfo: Sendable, Equatable {
    public var version: String
    public var pid: Int32
    public var startedRealtimeUsec: Int64
    public var nowRealtimeUsec: Int64
    public var bootID: String?
    public var kmsgPath: String
    /// Wall time of the last successful checkpoint write.
    public var lastCheckpointRealtimeUsec: Int64?
    public var ready: Bool

    public init(
        version: String, pid: Int32, startedRealtimeUsec: Int64, nowRealtimeUsec: Int64, bootID: String?,
        kmsgPath: String, lastCheckpointRealtimeUsec: Int64?, ready: Bool
    ) {
        self.version = version
        self.pid = pid
        self.startedRealtimeUsec = startedRealtimeUsec
        self.nowRealtimeUsec = nowRealtimeUsec
        self.bootID = bootID
        self.kmsgPath = kmsgPath
        self.lastCheckpointRealtimeUsec = lastCheckpointRealtimeUsec
        self.ready = ready
    }
}

/// A figure and how much it can be trusted (ARCHITECTURE.md "Counting honestly").
public struct BoundedFigure: Sendable, Equatable {
    /// exact, lower, upper, unbounded.
    public var kind: String
    public var value: UInt64?
    /// Unbounded: why (`overflow`, or `see the estimate`: a suppressed count not printed yet, or
    /// refusals the kernel did not count).
    public var why: String? = nil
}

/// Per unit: faults logged, and the bounds on the faults that really happened.
public struct UnitStatus: Sendable, Equatable {
    public var name: String
    public var vendor: Vendor?
    /// Faults logged outside `[[expected]]` rules (`iommu_unit_faults_total`).
    public var logged: UInt64
    /// Faults logged that `[[expected]]` rules matched: they happened, so the bounds count them.
    public var expected: UInt64 = 0
    public var recoverable: UInt64
    public var nonRecoverable: UInt64
    public var interrupts: UInt64
    public var suppressed: UInt64
    public var overflowSeen: Bool
    public var lower: BoundedFigure
    public var upper: BoundedFigure
    public var unit: Topology.Unit?
    /// The faults that happened behind the kernel's ratelimit (`FaultLedger.unitEstimates`):
    /// Intel from the model of `dmar_fault()`, AMD-Vi and SMMUv3 as logged + Σ N; nil for other
    /// families.
    public var estimate: DMARFaultEstimator.Estimate?
}

/// Everything `iommud status` shows, computed from the ledger and the topology. `replay` uses
/// the same report without `DaemonInfo`.
public struct StatusReport: Sendable {
    public var daemon: DaemonInfo?
    public var ledger: FaultLedger
    public var topology: Topology
    public var platform: PlatformSummary
    public var units: [UnitStatus]
    /// Totals across boots including this one (daemon only: replay has no history).
    public var lifetime: LifetimeTotals?
    /// Devices in a fault storm now (StormTracker), for the daemon's status.
    public var storms: [StormTracker.Storm] = []

    public init(ledger: FaultLedger, topology: Topology, daemon: DaemonInfo?) {
        self.daemon = daemon
        self.ledger = ledger
        self.topology = topology
        self.platform = PlatformSummary(topology: topology, inventory: ledger.inventory)
        let perUnit = ledger.unitFaults()
        let expectedPerUnit = ledger.expected.unitFaults()
        var names = Set(topology.units.keys).union(perUnit.keys).union(expectedPerUnit.keys)
        for k in ledger.interrupts.totals.keys { names.insert(k.unit) }
        let estimates = ledger.unitEstimates()
        // An Intel unit the model has no figure of (`ambiguous`, a unit sysfs does not know)
        // shares the one ratelimit: the figure for all units says what it can.
        let intelTotal = ledger.dmarEstimator.isEmpty ? nil : ledger.dmarEstimator.total()
        names.formUnion(estimates.keys)
        var units: [UnitStatus] = []
        for name in names.sorted(by: { $0.compareNatural($1) }) {
            let u = topology.units[name]
            let counts = perUnit[name] ?? UnitFaults()
            // A unit sysfs does not know takes the vendor of most of its faults (`unknown` can
            // hold several vendors'); ties go to the first by name.
            let expected = expectedPerUnit[name] ?? UnitFaults()
            let vendor = u?.vendor ?? counts.mostFaultsVendor ?? expected.mostFaultsVendor
            let logged = counts.total
            let happened = logged.saturatingAdd(expected.total)
            let suppressed = vendor.map { ledger.suppressed(for: $0) } ?? 0
            let overflow = vendor.map { ledger.overflowSeen(vendor: $0, unit: name) } ?? false
            let lost = ledger.lostRecords
            // logged + suppressed messages + lost records bounds what happened only once every
            // suppressed count is in, and when the kernel counted every refusal: the estimate says
            // when that cannot be so (no upper bound: a count pending, uncounted refusals).
            let estimate = estimates[name] ?? (vendor == .intel ? intelTotal : nil)
            let unboundedWhy: String? =
                overflow ? "overflow" : estimate.map { $0.upper == nil } == true ? "see the estimate" : nil
            let exact = suppressed == 0 && lost == 0 && unboundedWhy == nil
            let lower = BoundedFigure(kind: exact ? "exact" : "lower", value: happened)
            let upper: BoundedFigure
            if let unboundedWhy {
                upper = BoundedFigure(kind: "unbounded", value: nil, why: unboundedWhy)
            } else {
                upper = BoundedFigure(
                    kind: exact ? "exact" : "upper", value: happened.saturatingAdd(suppressed).saturatingAdd(lost))
            }
            units.append(
                UnitStatus(
                    name: name, vendor: vendor, logged: logged, expected: expected.total,
                    recoverable: counts.recoverable,
                    nonRecoverable: counts.nonRecoverable, interrupts: ledger.interrupts.total(unit: name),
                    suppressed: suppressed, overflowSeen: overflow, lower: lower, upper: upper, unit: u,
                    estimate: estimates[name]))
        }
        self.units = units
    }

    /// The devices in report order: by fault count, then address.
    public var sortedDevices: [DeviceSummary] {
        ledger.devices.values.sorted { a, b in a.total != b.total ? a.total > b.total : a.device < b.device }
    }

    /// What sysfs says of a device that faulted (nothing without a topology: a replay's address
    /// is then not even parsed).
    func topologyDevice(_ device: String) -> Topology.Device? {
        topology.devices.isEmpty ? nil : PCIAddress(parsing: device).flatMap { topology.devices[$0] }
    }
}
