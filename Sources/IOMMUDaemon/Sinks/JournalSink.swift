import Glibc
import IOMMUCore
import Logging
import ServiceLifecycle
import Synchronization

/// Structured journal entries through sd_journal_sendv (ARCHITECTURE.md "Journal entries"):
/// one per fault outside storms, storm begins / summary / ends, kernel records lost, daemon
/// started / stopped — and the [actions] commands for the same events.
///
/// Exactly once: at start the highest KMSG_SEQ this instance already journaled in this boot is
/// read back from the journal (sd_journal reader API) and combined with the checkpoint's
/// `journaledSeq` and the actions' own record; entries and actions at or below it are not
/// repeated.
///
/// Never floods: at most `[storm] journal_max_per_second` entries in any second. Fault entries
/// over the budget are dropped (the counters have them; the next entry says how many with
/// IOMMUD_JOURNAL_HELD_BACK); storm, loss and daemon entries wait in a small queue for budget.
///
/// When journald is not reachable the daemon goes on, says so once, and counts
/// iommud_journal_errors_total.
final class JournalSink: Service, Sendable {
    /// Fields that say which instance wrote an entry (its kmsg source and state directory), so
    /// a restart looks only at its own entries.
    static let sourceField = "IOMMUD_KMSG_SOURCE"
    static let stateField = "IOMMUD_STATE_DIRECTORY"
    static let queueLimit = 1024
    static let journalSocket = "/run/systemd/journal/socket"

    struct State: Sendable {
        var limit: RateLimit
        /// Entries that must not be dropped, waiting for budget.
        var queue: [[JournalField]] = []
        /// Fault entries dropped for budget since the last entry sent.
        var heldBack: UInt64 = 0
        var heldBackTotal: UInt64 = 0
        var unreachable = false
        /// Entries and actions at or below this seq were handled by an earlier run of this boot.
        var skipThrough: UInt64?
    }

    let core: DaemonCore
    let actions: ActionRunner
    let logger: Logger
    let instance: [JournalField]
    let state: Mutex<State>
    let send: @Sendable ([JournalField]) -> Int32
    let (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))

    init(
        core: DaemonCore, actions: ActionRunner, config: Configuration, logger: Logger,
        send: @escaping @Sendable ([JournalField]) -> Int32 = { Journal.send($0.map(\.description)) }
    ) {
        self.core = core
        self.actions = actions
        self.logger = logger
        self.send = send
        instance = [
            JournalField(Self.sourceField, config.kmsgPath),
            JournalField(Self.stateField, config.stateDirectory),
        ]
        state = Mutex(State(limit: RateLimit(limit: config.journalMaxPerSecond, periodUsec: 1_000_000)))
    }

    var enabled: Bool { core.configuration.journalEnabled }

    /// Where the earlier runs of this boot got to: the checkpoint's journaledSeq (same boot
    /// only), the journal itself, and the actions' record.
    func prepare(checkpointJournaledSeq: UInt64?) {
        var through = checkpointJournaledSeq
        let config = core.configuration
        if config.journalEnabled {
            do {
                if let s = try JournalReader.highestJournaledSeq(
                    source: config.kmsgPath, stateDirectory: config.stateDirectory)
                {
                    through = max(through ?? 0, s)
                }
            } catch {
                logger.warning(
                    "cannot read the journal back (\(error)); relying on the checkpoint for what was already journaled"
                )
            }
        }
        if let a = actions.doneSeq { through = max(through ?? 0, a) }
        if let through {
            logger.info(
                "entries and actions up to kmsg seq \(through) were handled by an earlier run of this boot")
            core.journaled(through: through)
        }
        state.withLock { $0.skipThrough = through }
    }

    // MARK: - Events in

    /// Called by the event loop after each batch, in kmsg order. `live`: the ring buffer's
    /// backlog was read before this batch (its faults just happened).
    func handle(_ items: [FaultStreamItem], losses: [LossRange], live: Bool = true) {
        guard !items.isEmpty || !losses.isEmpty else { return }
        let config = core.configuration
        let skip = state.withLock { $0.skipThrough }
        let offset = Clocks.realtimeOffsetUsec()
        var highest: UInt64?
        func fresh(_ seq: UInt64?) -> Bool {
            guard let seq else { return true }
            highest = max(highest ?? 0, seq)
            return skip.map { seq > $0 } ?? true
        }
        for loss in losses where fresh(loss.beforeSeq) {
            emit(JournalEntries.recordsLost(loss), important: true, config: config)
        }
        for item in items {
            switch item {
            case .fault(let f, let disposition):
                guard fresh(f.seq), disposition == .single else { continue }
                let fields = JournalEntries.fault(
                    f, device: core.deviceInfo(f.device), realtimeOffsetUsec: offset)
                emit(fields, important: false, live: live, config: config)
                if !config.onFault.isEmpty {
                    actions.run(
                        config.onFault, hook: "on_fault",
                        environment: JournalEntries.environment(fields, event: "fault"),
                        seq: f.seq, what: "the fault at kmsg seq \(f.seq.map(String.init) ?? "-")")
                }
            case .storm(let e):
                guard fresh(e.seq) else { continue }
                stormEvent(e, config: config, offset: offset)
            }
        }
        if let highest { core.journaled(through: highest) }
        if core.nextStormDueUsec != nil || state.withLock({ !$0.queue.isEmpty }) { wake.yield(()) }
    }

    func stormEvent(_ e: StormTracker.Event, config: Configuration, offset: Int64) {
        let dev = PCIAddress(parsing: e.storm.device)
        let fields = JournalEntries.storm(
            e, policy: core.stormPolicy, device: core.deviceInfo(dev), realtimeOffsetUsec: offset)
        emit(fields, important: true, config: config)
        if case .began = e, !config.onStorm.isEmpty {
            actions.run(
                config.onStorm, hook: "on_storm", environment: JournalEntries.environment(fields, event: "storm"),
                seq: e.seq,
                what: "the fault storm on \(e.storm.device)")
        }
        // The daemon's own log says it only at debug: under systemd that log is the journal too,
        // and the entry above already says it within the budget.
        if case .began = e {
            logger.debug("fault storm on \(e.storm.device): its faults are summarised from now on")
        } else if case .ended = e {
            logger.debug("fault storm on \(e.storm.device) ended after \(e.storm.total.faults) faults")
        }
    }

    // MARK: - Out to the journal, within budget

    /// Sends now if the budget allows; otherwise queues important entries and drops others.
    /// Only a live fault may take the last free token: queued entries and the faults of the
    /// backlog read at start leave one token of each second (`reserve`), so a fault that just
    /// happened is not dropped because old news is still being written.
    func emit(_ fields: [JournalField], important: Bool, live: Bool = false, config: Configuration) {
        guard config.journalEnabled else { return }
        let now = Clocks.monotonicUsec()
        let go: [JournalField]? = state.withLock { s in
            if s.limit.limit != config.journalMaxPerSecond {
                s.limit = RateLimit(limit: config.journalMaxPerSecond, periodUsec: 1_000_000)
            }
            let keep = live ? 0 : Self.reserve(s.limit)
            if important {
                if s.queue.isEmpty, s.limit.take(now: now, reserve: keep) {
                    return stamp(fields, &s)
                }
                s.queue.append(fields)
                if s.queue.count > Self.queueLimit { s.queue.removeFirst() }
                return nil
            }
            if s.limit.take(now: now, reserve: keep) { return stamp(fields, &s) }
            s.heldBack += 1
            s.heldBackTotal += 1
            return nil
        }
        if let go { deliver(go) }
    }

    /// Tokens per second that queued entries leave for fault entries.
    static func reserve(_ l: RateLimit) -> Int { l.limit > 1 ? 1 : 0 }

    /// Adds the instance fields and the held-back count.
    func stamp(_ fields: [JournalField], _ s: inout State) -> [JournalField] {
        var out = fields + instance
        if s.heldBack > 0 {
            out.append(JournalField("IOMMUD_JOURNAL_HELD_BACK", String(s.heldBack)))
            s.heldBack = 0
        }
        return out
    }

    /// Sends queued entries the budget allows now (all of it when stopping).
    func flushQueue(stopping: Bool = false) {
        let now = Clocks.monotonicUsec()
        let ready: [[JournalField]] = state.withLock { s in
            var out: [[JournalField]] = []
            let keep = stopping ? 0 : Self.reserve(s.limit)
            while !s.queue.isEmpty, s.limit.take(now: now, reserve: keep) {
                out.append(stamp(s.queue.removeFirst(), &s))
            }
            return out
        }
        for f in ready { deliver(f) }
    }

    func deliver(_ fields: [JournalField]) {
        var rc = send(fields)
        // libsystemd returns 0 when the journal socket does not exist at all ("journal not
        // available"): that is an entry lost too.
        if rc >= 0 && !fileExists(Self.journalSocket) { rc = -ENOENT }
        if rc < 0 {
            core.countJournalError()
            let first = state.withLock { s in
                defer { s.unreachable = true }
                return !s.unreachable
            }
            if first {
                logger.error(
                    "the journal is not reachable (\(String(cString: strerror(-rc)))): IOMMU fault entries are not written until it is back; counting iommud_journal_errors_total. Metrics and status go on."
                )
            }
        } else {
            let back = state.withLock { s in
                defer { s.unreachable = false }
                return s.unreachable
            }
            if back { logger.notice("the journal is reachable again") }
        }
    }

    /// "daemon started" / "daemon stopped" (through the budget: they may wait a moment).
    func daemonEvent(_ fields: [JournalField]) {
        emit(fields, important: true, config: core.configuration)
    }

    // MARK: - The timer while storms go on or entries wait

    func run() async throws {
        let t = core.ledgerTotals
        let cp = core.checkpointState()
        daemonEvent(
            JournalEntries.daemonStarted(
                version: BuildInfo.version, source: core.configuration.kmsgPath, units: t.units,
                resumedAfterSeq: cp.resumeSeq))
        await withGracefulShutdownHandler {
            var idle = true
            var it = wakeups.makeAsyncIterator()
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                if idle {
                    // Nothing pending: sleep until a batch brings a storm or a queued entry.
                    guard await it.next() != nil else { break }
                }
                try? await quietSleep(for: .milliseconds(200))
                tick()
                idle = core.nextStormDueUsec == nil && state.withLock { $0.queue.isEmpty }
            }
        } onGracefulShutdown: {
            self.wake.finish()
        }
        tick()
        let end = core.ledgerTotals
        daemonEvent(
            JournalEntries.daemonStopped(version: BuildInfo.version, faults: end.faults, lost: end.lost))
        // The last entries may wait for budget: at most a second or two.
        for _ in 0..<25 where state.withLock({ !$0.queue.isEmpty }) {
            flushQueue(stopping: true)
            try? await quietSleep(for: .milliseconds(100))
        }
    }

    /// Storm summaries and ends due by now, then whatever budget allows from the queue.
    func tick() {
        let now = UInt64(max(0, Clocks.monotonicUsec()))
        let events = core.advanceStorms(toUsec: now)
        if !events.isEmpty {
            let config = core.configuration
            let offset = Clocks.realtimeOffsetUsec()
            let skip = state.withLock { $0.skipThrough }
            var highest: UInt64?
            for e in events {
                if let seq = e.seq {
                    if let skip, seq <= skip { continue }
                    highest = max(highest ?? 0, seq)
                }
                stormEvent(e, config: config, offset: offset)
            }
            if let highest { core.journaled(through: highest) }
        }
        flushQueue()
    }
}
