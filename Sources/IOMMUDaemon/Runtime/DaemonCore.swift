import IOMMUCore
import Logging
import Synchronization

/// The one owner of the counting state. The kmsg event loop folds batches in; the HTTP and
/// control handlers render from it; the checkpoint writer snapshots it — all through one lock,
/// held only for in-memory work (ARCHITECTURE.md: one event loop owns the ledger).
public final class DaemonCore: Sendable {
    struct State: ~Copyable {
        var config: Configuration
        var classifier: Classifier
        var ledger: FaultLedger
        var lifetime: LifetimeTotals
        var topology: Topology
        var bootID: String
        /// Outputs carrying a seq at or below this were counted by an earlier run.
        var countedThrough: UInt64?
        /// `classifier.pendingSince` when the ledger was last counted (see `checkpointState`).
        var countedPendingSince: UInt64?
        var journaledSeq: UInt64?
        var ready = false
        var lastCheckpointUsec: Int64?
        var dirty = false
        var configReloadOK = true
        /// false while a changed `[http] web_config` file fails to load (the old one serves).
        var webConfigOK = true
        var processingSinceUsec: Int64?
        var readerAlive = true
        var missingInterruptWarned: Set<String> = []
        /// Devices a rescan did not find (negative cache until the next periodic rescan).
        var unknownDevices: Set<PCIAddress> = []
        var lastHotplugRescanUsec: Int64?
        var rescans: UInt64 = 0
        var interruptsUnreadableWarned = false
        let exporter = MetricsExporter()
        var outputs: [ClassifierOutput] = []
        /// Storm detection (DaemonCore+Storms.swift); independent of the journal switch.
        var storms = StormTracker()
        var journalErrors: UInt64 = 0
        var actionFailures: UInt64 = 0
        /// Bumped whenever the ledger or the topology may have changed: the exporter re-renders
        /// the per-device series only then.
        var generation: UInt64 = 0
    }

    let state: Mutex<State>
    let startedUsec: Int64
    let logger: Logger
    let sampler: InterruptSampler

    init(
        config: Configuration, ledger: FaultLedger, lifetime: LifetimeTotals, topology: Topology, bootID: String,
        resumeAfter: UInt64? = nil, countedThrough: UInt64?, journaledSeq: UInt64?, logger: Logger
    ) {
        state = Mutex(
            State(
                config: config,
                classifier: Classifier(options: Classifier.Options(acceptUserFacility: config.acceptUserFacility)),
                ledger: ledger, lifetime: lifetime, topology: topology, bootID: bootID, countedThrough: countedThrough,
                // A checkpoint that resumed before what it counted had a group pending from the
                // record after `resumeAfter`; until the records replayed rebuild it, that stands.
                countedPendingSince: countedThrough == nil || resumeAfter == countedThrough
                    ? nil : resumeAfter.map { $0 + 1 } ?? 0,
                journaledSeq: journaledSeq))
        state.withLock { $0.storms.policy = StormTracker.Policy(config) }
        startedUsec = Clocks.realtimeUsec()
        self.logger = logger
        self.sampler = InterruptSampler(path: config.interruptsPath)
    }

    /// Folds one reader batch into the ledger. Returns the faults it counted (for the journal).
    @discardableResult
    func ingest(_ batch: KmsgBatch) -> [Fault] {
        let offset = Clocks.realtimeOffsetUsec()
        let (outputs, unknown) = classify(batch)
        // Hotplug: rescan sysfs (I/O, outside the lock) at most once per 10 s; addresses still
        // unknown afterwards go to a negative cache until the next periodic rescan.
        if !unknown.isEmpty { rescanForUnknownDevices(unknown) }
        let topology = state.withLock { $0.topology }
        let sample: Result<[InterruptObservation], FileError>? =
            batch.candidates.isEmpty ? nil : sampler.sample(topology: topology)
        return count(batch, outputs: outputs, sample: sample, realtimeOffsetUsec: offset)
    }

    /// Step 1 of `ingest`: classify (in memory) and see whether a fault names a device sysfs did
    /// not have. The lock is then released for I/O; until `count` the classifier is ahead of the
    /// ledger, and a checkpoint taken meanwhile uses `countedPendingSince`.
    func classify(_ batch: KmsgBatch) -> (outputs: [ClassifierOutput], unknown: [PCIAddress]) {
        state.withLock { s -> ([ClassifierOutput], [PCIAddress]) in
            s.outputs.removeAll(keepingCapacity: true)
            // Records an earlier run counted, replayed only to rebuild an unfinished group.
            for r in batch.replayed { s.classifier.classify(r, into: &s.outputs) }
            for r in batch.candidates { s.classifier.classify(r, into: &s.outputs) }
            s.classifier.flush(into: &s.outputs)
            var unknown: [PCIAddress] = []
            for o in s.outputs {
                if case .fault(let f) = o, let d = f.device, s.topology.isUnknown(d), !s.unknownDevices.contains(d) {
                    unknown.append(d)
                }
            }
            return (s.outputs, unknown)
        }
    }

    /// Step 3 of `ingest`: attribute and count what `classify` found, with the batch's records.
    func count(
        _ batch: KmsgBatch, outputs: [ClassifierOutput], sample: Result<[InterruptObservation], FileError>?,
        realtimeOffsetUsec offset: Int64?
    ) -> [Fault] {
        state.withLock { s in
            s.processingSinceUsec = Clocks.monotonicUsec()
            defer { s.processingSinceUsec = nil }
            var faults: [Fault] = []
            for var o in outputs {
                if let seq = o.seq, let through = s.countedThrough, seq <= through { continue }
                if case .fault(var f) = o {
                    s.topology.attribute(&f)
                    o = .fault(f)
                    faults.append(f)
                }
                s.ledger.record(o, realtimeOffsetUsec: offset)
            }
            for loss in batch.losses { s.ledger.recordLoss(loss) }
            for _ in 0..<batch.overruns { s.ledger.recordOverrun() }
            s.ledger.recordKmsg(records: batch.records, lastSeq: batch.lastSeq)
            // The ledger and the classifier agree again: this is what a checkpoint pairs.
            s.countedPendingSince = s.classifier.pendingSince
            if case .success(let obs)? = sample { s.ledger.recordInterrupts(obs) }
            if batch.records > 0 || !outputs.isEmpty { s.dirty = true }
            if !outputs.isEmpty || !batch.losses.isEmpty { s.generation &+= 1 }
            if batch.endOfBacklog { s.ready = true }
            return faults
        }
    }

    /// Minimum time between two rescans triggered by unknown devices.
    static let hotplugRescanInterval: Int64 = 10_000_000

    func rescanForUnknownDevices(_ devices: [PCIAddress]) {
        let now = Clocks.monotonicUsec()
        let due = state.withLock { s -> Bool in
            guard now - (s.lastHotplugRescanUsec ?? Int64.min / 2) >= Self.hotplugRescanInterval else { return false }
            s.lastHotplugRescanUsec = now
            return true
        }
        guard due else { return }
        let config = configuration
        let fresh = TopologyScanner(sysfsRoot: config.sysfsRoot, cmdlinePath: config.cmdlinePath).scan()
        state.withLock { s in
            s.topology = fresh.carryingGoneDevices(from: s.topology)
            for d in devices where s.topology.isUnknown(d) { s.unknownDevices.insert(d) }
            s.rescans += 1
            s.generation &+= 1
        }
        logger.debug("rescanned sysfs for \(devices.count) unknown device(s)")
    }

    /// The periodic rescan: picks up hotplug, driver rebinds (vfio-pci), mode changes, and
    /// forgets the negative cache.
    func periodicRescan() {
        let config = configuration
        let fresh = TopologyScanner(sysfsRoot: config.sysfsRoot, cmdlinePath: config.cmdlinePath).scan()
        state.withLock { s in
            s.topology = fresh.carryingGoneDevices(from: s.topology)
            s.unknownDevices.removeAll()
            s.rescans += 1
            s.generation &+= 1
        }
    }

    /// Samples /proc/interrupts into the ledger (on scrape and status).
    func sampleInterrupts() {
        let topology = state.withLock { $0.topology }
        let result = sampler.sample(topology: topology)
        state.withLock { s in
            switch result {
            case .success(let obs):
                s.ledger.recordInterrupts(obs)
                // A unit with no fault vector row: say so once (its interrupt counters stay 0).
                let seen = Set(obs.map(\.unit))
                for u in s.topology.units.values where u.vendor == .intel && !seen.contains(u.name) {
                    if s.missingInterruptWarned.insert(u.name).inserted {
                        logger.warning(
                            "no /proc/interrupts row for \(u.name)'s fault vector: its fault interrupts are not counted (the kernel did not request the IRQ, or \(sampler.path) is not this machine's)."
                        )
                    }
                }
            case .failure(let e):
                if !s.interruptsUnreadableWarned {
                    s.interruptsUnreadableWarned = true
                    logger.warning("cannot read \(e): fault interrupt counts are not available.")
                }
            }
        }
    }

    // MARK: - Views for the sinks

    func metrics() -> [UInt8] {
        sampleInterrupts()
        return state.withLock { s in
            let platform = PlatformSummary(topology: s.topology, inventory: s.ledger.inventory)
            s.exporter.sync(
                ledger: s.ledger, topology: s.topology, platform: platform,
                extras: MetricsExporter.Extras(
                    configReloadOK: s.configReloadOK && s.webConfigOK, lastCheckpointUsec: s.lastCheckpointUsec,
                    storming: Set(s.storms.storming.map(\.device)), journalErrors: s.journalErrors,
                    actionFailures: s.actionFailures, zeroInitDevices: s.config.zeroInitDevices,
                    generation: s.generation))
            return s.exporter.render()
        }
    }

    func status() -> StatusReport {
        sampleInterrupts()
        return state.withLock { s in
            let info = DaemonInfo(
                version: BuildInfo.version, pid: getpidValue(), startedRealtimeUsec: startedUsec,
                nowRealtimeUsec: Clocks.realtimeUsec(), bootID: s.bootID, kmsgPath: s.config.kmsgPath,
                lastCheckpointRealtimeUsec: s.lastCheckpointUsec, ready: s.ready)
            var r = StatusReport(ledger: s.ledger, topology: s.topology, daemon: info)
            r.lifetime = s.lifetime.including(s.ledger)
            r.storms = s.storms.storming
            return r
        }
    }

    /// One line for systemd's STATUS=.
    func statusLine() -> String {
        state.withLock { s in
            let f = s.ledger.totalFaults
            return "\(f) IOMMU fault\(f == 1 ? "" : "s") this boot, \(s.ledger.lostRecords) kmsg records lost, "
                + "\(s.topology.units.count) unit\(s.topology.units.count == 1 ? "" : "s")"
        }
    }

    /// The state to save: counters and the position they are consistent with, together. The
    /// resume seq never points inside an unfinished multi-record group.
    func checkpointState() -> CheckpointState {
        state.withLock { s in
            let last = max(s.ledger.lastSeq ?? 0, s.countedThrough ?? 0)
            let hasSeq = s.ledger.lastSeq != nil || s.countedThrough != nil
            var resume: UInt64? = hasSeq ? last : nil
            // The groups as they stood when the ledger was last counted, not the classifier's
            // live state: between `classify` and `count` it is a batch ahead, and pairing it
            // with the ledger lost that batch's records on restart (ExactlyOnceTests, SIGKILL).
            if let pending = s.countedPendingSince {
                resume = pending == 0 ? nil : pending - 1
            }
            return CheckpointState(
                bootID: s.bootID, resumeSeq: resume, countedSeq: hasSeq ? last : nil,
                writtenUsec: Clocks.realtimeUsec(),
                ledger: s.ledger, lifetime: s.lifetime, journaledSeq: s.journaledSeq)
        }
    }

    func checkpointWritten(at usec: Int64) {
        state.withLock { s in
            s.lastCheckpointUsec = usec
            s.dirty = false
        }
    }

    var isDirty: Bool { state.withLock { $0.dirty } }
    var isReady: Bool { state.withLock { $0.ready } }

    /// Healthy unless the loop has been stuck in one batch for longer than `limit`, or the
    /// reader thread stopped.
    func isHealthy(limit: Duration) -> Bool {
        state.withLock { s in
            guard s.readerAlive else { return false }
            if let since = s.processingSinceUsec {
                return Clocks.monotonicUsec() - since < limit.totalMilliseconds * 1000
            }
            return true
        }
    }

    func readerStopped() { state.withLock { $0.readerAlive = false } }

    func setTopology(_ t: Topology) {
        state.withLock { s in
            s.topology = t.carryingGoneDevices(from: s.topology)
            s.unknownDevices.removeAll()
            s.generation &+= 1
        }
    }

    func applyReload(_ config: Configuration) {
        state.withLock { s in
            s.config = config
            s.configReloadOK = true
            s.generation &+= 1
            s.storms.policy = StormTracker.Policy(config)
        }
    }

    func reloadFailed() { state.withLock { $0.configReloadOK = false } }

    func setWebConfigOK(_ ok: Bool) { state.withLock { $0.webConfigOK = ok } }

    var configuration: Configuration { state.withLock { $0.config } }
}

import Glibc

func getpidValue() -> Int32 { getpid() }
