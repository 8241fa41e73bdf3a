import IOMMUCore
import Logging
import Synchronization
import Testing

@testable import IOMMUDaemon

/// The journal sink's promises about what it does not send at once: nothing dropped without a
/// count, the journaled mark never past an entry still waiting, and a clean stop sends what
/// waits.
@Suite("Journal sink: queue, mark, stop")
struct JournalSinkTests {
    final class Sent: Sendable {
        let entries = Mutex<[[JournalField]]>([])
        func withLock<R>(_ body: (inout [[JournalField]]) -> R) -> R { entries.withLock { body(&$0) } }
    }

    static func sink(perSecond: Int) -> (JournalSink, Sent) {
        let sent = Sent()
        let config = {
            var c = Configuration()
            c.journalMaxPerSecond = perSecond
            return c
        }()
        let s = JournalSink(
            configuration: { config }, logger: Logger(label: "test"),
            send: { fields in
                sent.withLock { $0.append(fields) }
                return 0
            })
        return (s, sent)
    }

    static func entry(_ seq: UInt64) -> [JournalField] {
        [JournalField("MESSAGE", "entry \(seq)"), JournalField("KMSG_SEQ", String(seq))]
    }

    @Test("entries pushed out of a full queue are counted; the mark waits for the queue; a stop sends the rest")
    func queue() {
        let (s, sent) = Self.sink(perSecond: 1)
        let config = s.configuration()
        let n = JournalSink.queueLimit + 6
        for seq in 1...UInt64(n) { s.emit(Self.entry(seq), seq: seq, important: true, config: config) }
        // The first took the second's only token; 1 024 wait; the 5 oldest of them were pushed out.
        #expect(sent.withLock { $0.count } == 1)
        #expect(s.dropped.queue == 5)
        #expect(s.journaledSeq == 6, "the mark is before the oldest entry still waiting")
        // /metrics says so, by reason.
        let snapshot = DaemonCore.Snapshot(
            ledger: FaultLedger(), topology: Topology(), generation: 1,
            position: CountedPosition(countedSeq: nil, pendingSinceAtCount: nil))
        let metrics = String(
            decoding: MetricsExporter().render(
                snapshot,
                extras: .init(journalDroppedForBudget: s.dropped.budget, journalDroppedFromQueue: s.dropped.queue),
                process: ProcessStats()), as: UTF8.self)
        #expect(metrics.contains("\niommud_journal_dropped_total{reason=\"queue\"} 5\n"), "\(metrics)")
        #expect(metrics.contains("\niommud_journal_dropped_total{reason=\"budget\"} 0\n"), "\(metrics)")
        s.flushQueue(stopping: true)
        #expect(sent.withLock { $0.count } == n - 5)
        #expect(s.journaledSeq == UInt64(n))
        #expect(s.state.withLock { $0.queue.isEmpty })
    }

    @Test("a fault entry over the budget is dropped and counted, and held back in the next entry")
    func budget() {
        let (s, sent) = Self.sink(perSecond: 2)
        let config = s.configuration()
        for seq in 1...UInt64(5) { s.emit(Self.entry(seq), seq: seq, important: false, live: true, config: config) }
        #expect(sent.withLock { $0.count } == 2)
        #expect(s.dropped.budget == 3)
        // Dropped by policy, counted: the mark may pass them (they are never to be sent).
        #expect(s.journaledSeq == 5)
        s.state.withLock { $0.budget = WindowBudget(limit: 2, periodUsec: 1_000_000) }
        s.emit(Self.entry(6), seq: 6, important: false, live: true, config: config)
        let last = sent.withLock { $0.last } ?? []
        #expect(last.contains(JournalField("IOMMUD_JOURNAL_HELD_BACK", "3")))
    }

    @Test("a mark from earlier runs beyond the ring buffer's end is not believed")
    func boundedMark() {
        let (s, _) = Self.sink(perSecond: 5)
        s.state.withLock { $0.earlierRuns = HandledMark(through: .max) }
        s.bound(byLastSeq: 1234)
        #expect(s.state.withLock { $0.earlierRuns.through } == 1234)
    }
}
