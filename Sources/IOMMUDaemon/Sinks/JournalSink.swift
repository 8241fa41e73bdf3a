import Glibc
import IOMMUCore
import Logging
import ServiceLifecycle
import Synchronization

/// Structured journal entries through sd_journal_sendv (ARCHITECTURE.md "Journal entries"):
/// one per fault outside storms, storm begins / summary / ends, kernel records lost, daemon
/// started / stopped.
///
/// Exactly once (rule 3 of ExactlyOnce.swift): at start the highest KMSG_SEQ this daemon already
/// journaled in this boot is read back from the journal — only entries journald vouches were
/// written by this daemon's user (and unit, under systemd) — and combined with the
/// checkpoint's `journaledSeq`; entries at or below it are not sent again. The mark saved in
/// the checkpoint moves only past entries sent (or dropped, and counted), never past entries
/// still waiting in the queue.
///
/// Never floods: at most `[storm] journal_max_per_second` entries in any second. Fault entries
/// over the budget are dropped (the counters have them; the next entry says how many with
/// IOMMUD_JOURNAL_HELD_BACK, and `iommud_journal_dropped_total{reason="budget"}` counts them);
/// storm, loss and daemon entries wait in a queue of at most `queueLimit` for budget (beyond it
/// the oldest is dropped and counted, `reason="queue"`). A clean stop sends what waits.
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

    struct Queued: Sendable {
        var seq: UInt64?
        var fields: [JournalField]
    }

    struct State: Sendable {
        var budget: WindowBudget
        /// Entries that must not be dropped, waiting for budget.
        var queue: [Queued] = []
        /// Fault entries dropped for budget since the last entry sent.
        var heldBack: UInt64 = 0
        var droppedForBudget: UInt64 = 0
        var droppedFromQueue: UInt64 = 0
        var errors: UInt64 = 0
        var unreachable = false
        /// Entries at or below this seq were sent by an earlier run of this boot: not again.
        var earlierRuns = HandledMark()
        /// Entries at or below this seq are sent (or dropped and counted) by this run.
        var sent = HandledMark()
    }

    let configuration: @Sendable () -> Configuration
    let logger: Logger
    let instance: [JournalField]
    let state: Mutex<State>
    let send: @Sendable ([JournalField]) -> Int32
    /// The "daemon started" / "daemon stopped" entries, made when they are sent.
    let startedEntry: @Sendable () -> [JournalField]
    let stoppedEntry: @Sendable () -> [JournalField]
    let (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))

    init(
        configuration: @escaping @Sendable () -> Configuration, logger: Logger,
        startedEntry: @escaping @Sendable () -> [JournalField] = { [] },
        stoppedEntry: @escaping @Sendable () -> [JournalField] = { [] },
        send: @escaping @Sendable ([JournalField]) -> Int32 = { Journal.send($0.map(\.description)) }
    ) {
        self.configuration = configuration
        self.logger = logger
        self.startedEntry = startedEntry
        self.stoppedEntry = stoppedEntry
        self.send = send
        let config = configuration()
        instance = [
            JournalField(Self.sourceField, config.kmsgPath),
            JournalField(Self.stateField, config.stateDirectory),
        ]
        state = Mutex(State(budget: WindowBudget(limit: config.journalMaxPerSecond, periodUsec: 1_000_000)))
    }

    /// Where the earlier runs of this boot got to: the checkpoint's journaledSeq (same boot
    /// only) and the journal itself.
    func prepare(checkpointJournaledSeq: UInt64?) {
        var through = checkpointJournaledSeq
        let config = configuration()
        if config.journalEnabled {
            do {
                if let s = try JournalReader.highestJournaledSeq(
                    source: config.kmsgPath, stateDirectory: config.stateDirectory, writer: .thisDaemon)
                {
                    through = max(through ?? 0, s)
                }
            } catch {
                logger.warning(
                    "cannot read the journal back (\(error)); relying on the checkpoint for what was already journaled"
                )
            }
        }
        if let through {
            logger.info("journal entries up to kmsg seq \(through) were written by an earlier run of this boot")
        }
        state.withLock { s in
            s.earlierRuns = HandledMark(through: through)
            if let through { s.sent.advance(to: through) }
        }
    }

    /// The ring buffer's backlog is read: a mark of earlier runs beyond its last record cannot
    /// be true (a journal restored from elsewhere, a clock gone wrong); it is cut back so no
    /// new entry is withheld.
    func bound(byLastSeq last: UInt64?) {
        let cut = state.withLock { s -> UInt64? in
            guard let through = s.earlierRuns.through, through > (last ?? 0) else { return nil }
            s.earlierRuns = HandledMark(through: last)
            s.sent = HandledMark(through: last)
            return through
        }
        if let cut {
            logger.warning(
                "the journal says entries up to kmsg seq \(cut) were written in this boot, but the ring buffer ends at \(last.map(String.init) ?? "nothing"): not trusting that mark"
            )
        }
    }

    /// The mark to save in the checkpoint: every entry at or below it is sent (or counted as
    /// dropped); entries still queued hold it back.
    var journaledSeq: UInt64? {
        state.withLock { s in
            guard let oldest = s.queue.compactMap(\.seq).min() else { return s.sent.through }
            let before = oldest == 0 ? nil : oldest - 1
            return [s.sent.through, before].compactMap { $0 }.min()
        }
    }

    var errors: UInt64 { state.withLock { $0.errors } }
    var dropped: (budget: UInt64, queue: UInt64) { state.withLock { ($0.droppedForBudget, $0.droppedFromQueue) } }

    // MARK: - Events in

    /// Called by the event loop after each batch, in kmsg order. `live`: the ring buffer's
    /// backlog was read before this batch (its faults just happened).
    func handle(_ items: [FaultStreamItem], losses: [LossRange], topology: Topology, live: Bool = true) {
        guard !items.isEmpty || !losses.isEmpty else { return }
        let config = configuration()
        guard config.journalEnabled else { return }
        let earlier = state.withLock { $0.earlierRuns }
        let offset = Clocks.realtimeOffsetUsec()
        for loss in losses where earlier.isNew(loss.beforeSeq) {
            emit(JournalEntries.recordsLost(loss), seq: loss.beforeSeq, important: true, config: config)
        }
        for item in items {
            switch item {
            case .fault(let f, let disposition):
                guard earlier.isNew(f.seq) else { continue }
                guard disposition == .single else {
                    resolve(f.seq)  // summarised by its storm
                    continue
                }
                let device = JournalEntries.DeviceInfo(f.device.flatMap { topology.devices[$0] })
                let fields = JournalEntries.fault(f, device: device, realtimeOffsetUsec: offset)
                emit(fields, seq: f.seq, important: false, live: live, config: config)
            case .storm(let e):
                guard earlier.isNew(e.seq) else { continue }
                stormEvent(e, topology: topology, config: config, offset: offset)
            case .expected(let f):
                // At PRIORITY 6, and never with the last token of a second: a flood of expected
                // faults does not crowd out a fault that pages.
                guard earlier.isNew(f.seq) else { continue }
                let device = JournalEntries.DeviceInfo(f.device.flatMap { topology.devices[$0] })
                let fields = JournalEntries.fault(f, device: device, realtimeOffsetUsec: offset)
                emit(fields, seq: f.seq, important: false, live: false, config: config)
            }
        }
        if state.withLock({ !$0.queue.isEmpty }) { wake.yield(()) }
    }

    /// Storm summaries and ends that come from time passing (the storm service's timer).
    func handleStormEvents(_ items: [FaultStreamItem], topology: Topology) {
        handle(items, losses: [], topology: topology)
    }

    func stormEvent(_ e: StormTracker.Event, topology: Topology, config: Configuration, offset: Int64) {
        let dev = PCIAddress(parsing: e.storm.device)
        let fields = JournalEntries.storm(
            e, policy: StormTracker.Policy(config),
            device: JournalEntries.DeviceInfo(dev.flatMap { topology.devices[$0] }),
            realtimeOffsetUsec: offset)
        emit(fields, seq: e.seq, important: true, config: config)
        // The daemon's own log says it only at debug: under systemd that log is the journal too,
        // and the entry above already says it within the budget.
        if case .began = e {
            logger.debug("fault storm on \(e.storm.device): its faults are summarised from now on")
        } else if case .ended = e {
            logger.debug("fault storm on \(e.storm.device) ended after \(e.storm.total.faults) faults")
        }
    }

    private func resolve(_ seq: UInt64?) {
        guard let seq else { return }
        state.withLock { $0.sent.advance(to: seq) }
    }

    // MARK: - Out to the journal, within budget

    /// Sends now if the budget allows; otherwise queues important entries and drops others.
    /// Only a live fault may take the last free token: queued entries and the faults of the
    /// backlog read at start leave one token of each second (`reserve`), so a fault that just
    /// happened is not dropped because old news is still being written.
    func emit(_ fields: [JournalField], seq: UInt64?, important: Bool, live: Bool = false, config: Configuration) {
        let now = Clocks.monotonicUsec()
        let go: [JournalField]? = state.withLock { s in
            if s.budget.limit != config.journalMaxPerSecond {
                s.budget = WindowBudget(limit: config.journalMaxPerSecond, periodUsec: 1_000_000)
            }
            let keep = live ? 0 : Self.reserve(s.budget)
            if important {
                if s.queue.isEmpty, s.budget.take(now: now, reserve: keep) {
                    if let seq { s.sent.advance(to: seq) }
                    return stamp(fields, &s)
                }
                s.queue.append(Queued(seq: seq, fields: fields))
                if s.queue.count > Self.queueLimit {
                    let dropped = s.queue.removeFirst()
                    s.droppedFromQueue += 1
                    if let d = dropped.seq { s.sent.advance(to: d) }
                }
                return nil
            }
            if let seq { s.sent.advance(to: seq) }
            if s.budget.take(now: now, reserve: keep) { return stamp(fields, &s) }
            s.heldBack += 1
            s.droppedForBudget += 1
            return nil
        }
        if let go { deliver(go) }
    }

    /// Tokens per second that queued entries leave for fault entries.
    static func reserve(_ l: WindowBudget) -> Int { l.limit > 1 ? 1 : 0 }

    /// Adds the instance fields and the held-back count.
    func stamp(_ fields: [JournalField], _ s: inout State) -> [JournalField] {
        var out = fields + instance
        if s.heldBack > 0 {
            out.append(JournalField("IOMMUD_JOURNAL_HELD_BACK", String(s.heldBack)))
            s.heldBack = 0
        }
        return out
    }

    /// Sends queued entries the budget allows now — all of them when stopping.
    func flushQueue(stopping: Bool = false) {
        let now = Clocks.monotonicUsec()
        let ready: [[JournalField]] = state.withLock { s in
            var out: [[JournalField]] = []
            let keep = Self.reserve(s.budget)
            while !s.queue.isEmpty, stopping || s.budget.take(now: now, reserve: keep) {
                let q = s.queue.removeFirst()
                if let seq = q.seq { s.sent.advance(to: seq) }
                out.append(stamp(q.fields, &s))
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
            let first = state.withLock { s in
                s.errors += 1
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

    // MARK: - Start, the queue's timer, stop

    func run() async throws {
        let started = startedEntry()
        if configuration().journalEnabled && !started.isEmpty {
            emit(started, seq: nil, important: true, config: configuration())
        }
        await withGracefulShutdownHandler {
            var it = wakeups.makeAsyncIterator()
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                if state.withLock({ $0.queue.isEmpty }) {
                    // Nothing waits: sleep until a batch queues something.
                    guard await it.next() != nil else { break }
                }
                try? await quietSleep(for: .milliseconds(200))
                flushQueue()
            }
        } onGracefulShutdown: {
            self.wake.finish()
        }
        let stopped = stoppedEntry()
        if configuration().journalEnabled && !stopped.isEmpty {
            emit(stopped, seq: nil, important: true, config: configuration())
        }
        flushQueue(stopping: true)
    }
}
