import IOMMUCore
import Logging
import Synchronization

/// The daemon's one `KmsgPipeline`, and the I/O it asks for.
///
/// The kmsg reader's thread is the only writer: it hands each batch of bytes to `ingest`, which
/// reads them into the pipeline under the lock, lets the lock go for what the pipeline asks
/// (a sysfs rescan for a device it does not know, a /proc/interrupts sample), then commits.
/// Everyone else reads copies: `snapshot()` for the metrics and status sinks (a copy of the
/// ledger and topology, taken once per scrape, never per fault), `checkpointState` for the
/// checkpoint writer. The other daemon facts that sinks show (ready, healthy, reload status)
/// live beside the pipeline, not in it.
public final class DaemonCore: Sendable {
    /// What sinks render from: the ledger and topology as of the last commit.
    public struct Snapshot: Sendable {
        public var ledger: FaultLedger
        public var topology: Topology
        /// Changes whenever the ledger or the topology may have changed (the metrics cache).
        public var generation: UInt64
        public var position: CountedPosition
    }

    struct Facts: Sendable {
        var config: Configuration
        var ready = false
        var readerAlive = true
        /// Monotonic µs since the reader has been inside one batch (nil: not in one).
        var processingSinceUsec: Int64?
        var configReloadOK = true
        /// false while a changed `[http] web_config` file fails to load (the old one serves).
        var webConfigOK = true
        var lastHotplugRescanUsec: Int64?
        var lastRecordSampleUsec: Int64?
        var rescans: UInt64 = 0
        var interruptsUnreadableWarned = false
        var missingInterruptWarned: Set<String> = []
    }

    let pipeline: Mutex<KmsgPipeline>
    let facts: Mutex<Facts>
    let lifetime: LifetimeTotals
    let bootID: String
    let startedUsec: Int64
    let logger: Logger

    /// Minimum time between two rescans triggered by unknown devices.
    static let hotplugRescanInterval: Int64 = 10_000_000

    init(config: Configuration, pipeline: KmsgPipeline, lifetime: LifetimeTotals, bootID: String, logger: Logger) {
        self.pipeline = Mutex(pipeline)
        self.facts = Mutex(Facts(config: config))
        self.lifetime = lifetime
        self.bootID = bootID
        self.startedUsec = Clocks.realtimeUsec()
        self.logger = logger
    }

    var configuration: Configuration { facts.withLock { $0.config } }

    // MARK: - The reader's side

    /// Reads one batch into the pipeline (`read` does the reading), does the I/O it asks for,
    /// and counts it. Returns what was counted, for the journal, storms and actions.
    func ingest(_ read: (inout KmsgPipeline) -> Void) -> KmsgPipeline.Commit {
        let (requests, topology) = pipeline.withLock { p -> (KmsgPipeline.Requests, Topology) in
            read(&p)
            return (p.requests, p.topology)
        }
        let config = configuration
        facts.withLock { $0.processingSinceUsec = Clocks.monotonicUsec() }
        defer { facts.withLock { $0.processingSinceUsec = nil } }
        var rescanned: Topology?
        if !requests.unknownDevices.isEmpty && hotplugRescanDue() {
            rescanned = TopologyScanner(sysfsRoot: config.sysfsRoot, cmdlinePath: config.cmdlinePath).scan()
            logger.debug("rescanned sysfs for \(requests.unknownDevices.count) unknown device(s)")
        }
        let sample =
            requests.interruptSample && recordSampleDue() ? sampleInterrupts(topology: rescanned ?? topology) : nil
        let offset = Clocks.realtimeOffsetUsec()
        return pipeline.withLock { p in
            p.commit(rescanned: rescanned, interrupts: sample, realtimeOffsetUsec: offset)
        }
    }

    /// Minimum time between two /proc/interrupts samples that records ask for: in a storm a batch
    /// is a record or two, and the file is large on large machines (a column per CPU). Nothing
    /// waits for these samples — a scrape and `status` take their own, and the estimate keeps
    /// the highest count seen — so a storm costs at most four reads a second.
    static let recordSampleInterval: Int64 = 250_000

    func recordSampleDue() -> Bool { due(\.lastRecordSampleUsec, every: Self.recordSampleInterval) }

    func hotplugRescanDue() -> Bool {
        guard due(\.lastHotplugRescanUsec, every: Self.hotplugRescanInterval) else { return false }
        facts.withLock { $0.rescans += 1 }
        return true
    }

    /// At most once per `interval` µs (monotonic): true, and the time noted in `last`, when due.
    private func due(_ last: WritableKeyPath<Facts, Int64?>, every interval: Int64) -> Bool {
        let now = Clocks.monotonicUsec()
        return facts.withLock { f in
            guard now - (f[keyPath: last] ?? Int64.min / 2) >= interval else { return false }
            f[keyPath: last] = now
            return true
        }
    }

    /// The ring buffer's backlog has been read (and counted): the daemon is ready.
    func backlogRead() { facts.withLock { $0.ready = true } }

    func readerStopped() { facts.withLock { $0.readerAlive = false } }

    // MARK: - Topology and interrupts

    /// A periodic or reload rescan: hotplug, driver rebinds (vfio-pci), mode changes; it also
    /// forgets which devices an earlier rescan did not find.
    func rescan() {
        let config = configuration
        let fresh = TopologyScanner(sysfsRoot: config.sysfsRoot, cmdlinePath: config.cmdlinePath).scan()
        pipeline.withLock { $0.replaceTopology(fresh) }
        facts.withLock { $0.rescans += 1 }
    }

    var topology: Topology { pipeline.withLock { $0.topology } }

    /// Reads /proc/interrupts (when records arrive, on scrape and on status — never on a timer).
    func sampleInterrupts(topology: Topology) -> [InterruptObservation]? {
        let sampler = InterruptSampler(path: configuration.interruptsPath)
        switch sampler.sample(topology: topology) {
        case .success(let obs):
            // A unit with no fault vector row: say so once (its interrupt counters stay 0).
            let seen = Set(obs.map(\.unit))
            let missing = topology.units.values.filter { $0.vendor == .intel && !seen.contains($0.name) }.map(\.name)
            let fresh = facts.withLock { f in missing.filter { f.missingInterruptWarned.insert($0).inserted } }
            for u in fresh {
                logger.warning(
                    "no /proc/interrupts row for \(u)'s fault vector: its fault interrupts are not counted (the kernel did not request the IRQ, or \(sampler.path) is not this machine's)."
                )
            }
            return obs
        case .failure(let e):
            let first = facts.withLock { f in
                defer { f.interruptsUnreadableWarned = true }
                return !f.interruptsUnreadableWarned
            }
            if first { logger.warning("cannot read \(e): fault interrupt counts are not available.") }
            return nil
        }
    }

    /// Samples /proc/interrupts into the ledger now (a scrape, `status`).
    func refreshInterrupts() {
        guard let obs = sampleInterrupts(topology: topology) else { return }
        pipeline.withLock { $0.recordInterrupts(obs) }
    }

    // MARK: - Views for the sinks

    func snapshot() -> Snapshot {
        pipeline.withLock { p in
            Snapshot(ledger: p.ledger, topology: p.topology, generation: p.generation, position: p.checkpointPosition)
        }
    }

    /// The state to save: the counters and the position they are consistent with, together.
    func checkpointState(journaledSeq: UInt64?) -> CheckpointState {
        let s = snapshot()
        return CheckpointState(
            bootID: bootID, resumeSeq: s.position.resumeSeq, countedSeq: s.position.countedSeq,
            writtenUsec: Clocks.realtimeUsec(), ledger: s.ledger, lifetime: lifetime, journaledSeq: journaledSeq,
            countedOutputs: s.position.countedAfterResume)
    }

    /// One line for systemd's STATUS= and the stop message.
    func statusLine() -> String {
        let s = snapshot()
        let f = s.ledger.totalFaults
        let units = s.topology.units.count
        return "\(f) IOMMU fault\(f == 1 ? "" : "s") this boot, \(s.ledger.lostRecords) kmsg records lost, "
            + "\(units) unit\(units == 1 ? "" : "s")"
    }

    var isReady: Bool { facts.withLock { $0.ready } }

    /// Healthy unless the reader has been stuck in one batch for longer than `limit`, or it
    /// stopped.
    func isHealthy(limit: Duration) -> Bool {
        facts.withLock { f in
            guard f.readerAlive else { return false }
            if let since = f.processingSinceUsec {
                return Clocks.monotonicUsec() - since < limit.totalMicroseconds
            }
            return true
        }
    }

    var configReloadOK: Bool { facts.withLock { $0.configReloadOK && $0.webConfigOK } }

    func applyReload(_ config: Configuration) {
        facts.withLock { f in
            f.config = config
            f.configReloadOK = true
        }
        // Faults counted from now on meet the new rules; counts stay with their rule's name.
        pipeline.withLock { $0.setExpectedRules(config.expectedRules) }
    }

    func reloadFailed() { facts.withLock { $0.configReloadOK = false } }

    func setWebConfigOK(_ ok: Bool) { facts.withLock { $0.webConfigOK = ok } }
}
