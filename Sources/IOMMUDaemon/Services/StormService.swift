import IOMMUCore
import Logging
import ServiceLifecycle
import Synchronization

extension StormTracker.Policy {
    /// The [storm] section. The config's ranges keep every value far from overflow; the
    /// conversion saturates all the same.
    init(_ c: Configuration) {
        self.init(
            threshold: c.stormThreshold,
            windowUsec: UInt64(clamping: c.stormWindow.totalMicroseconds),
            summaryIntervalUsec: UInt64(clamping: c.stormSummaryInterval.totalMicroseconds), deviceLimit: c.maxDevices)
    }
}

/// What happened, in kmsg order: each fault with what the storm tracker made of it, and the
/// storm events between them — what the journal and the actions act on.
enum FaultStreamItem: Sendable {
    case fault(Fault, StormTracker.Disposition)
    case storm(StormTracker.Event)
    /// A fault an `[[expected]]` rule matched: journaled as info, no action, no storm.
    case expected(Fault)
}

/// Decides storms (`StormTracker`, pure, on the faults' kmsg timestamps) for every fault counted,
/// whether the journal is on or not: the storm gauge and `status` show them too. While a storm
/// goes on it wakes when its next summary or its end is due, and hands those events on.
final class StormService: Service, Sendable {
    let tracker: Mutex<StormTracker>
    let configuration: @Sendable () -> Configuration
    /// Where storm events that come from time passing (summaries, ends) go.
    let onEvents: @Sendable ([FaultStreamItem]) -> Void
    let (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))

    init(
        configuration: @escaping @Sendable () -> Configuration,
        onEvents: @escaping @Sendable ([FaultStreamItem]) -> Void
    ) {
        self.configuration = configuration
        self.onEvents = onEvents
        tracker = Mutex(StormTracker(policy: StormTracker.Policy(configuration())))
    }

    /// Runs the faults of a batch through the tracker.
    func observe(_ faults: [Fault]) -> [FaultStreamItem] {
        guard !faults.isEmpty else { return [] }
        let policy = StormTracker.Policy(configuration())
        let items = tracker.withLock { t -> [FaultStreamItem] in
            if t.policy != policy { t.policy = policy }
            var items: [FaultStreamItem] = []
            var events: [StormTracker.Event] = []
            for f in faults {
                // Expected faults page no one: they neither start nor feed a storm.
                if f.expectedRule != nil {
                    items.append(.expected(f))
                    continue
                }
                let d = t.observe(f, events: &events)
                items += events.map { .storm($0) }
                events.removeAll(keepingCapacity: true)
                items.append(.fault(f, d))
            }
            return items
        }
        if tracker.withLock({ $0.nextDueUsec != nil }) { wake.yield(()) }
        return items
    }

    /// Devices in a storm now.
    var storming: [StormTracker.Storm] { tracker.withLock { $0.storming } }

    var policy: StormTracker.Policy { tracker.withLock { $0.policy } }

    /// Summaries and ends due by the kmsg clock now.
    func tick() {
        let now = UInt64(max(0, Clocks.monotonicUsec()))
        let events = tracker.withLock { t -> [StormTracker.Event] in
            var events: [StormTracker.Event] = []
            t.advance(toUsec: now, events: &events)
            return events
        }
        if !events.isEmpty { onEvents(events.map { .storm($0) }) }
    }

    /// Sleeps until a storm begins, then ticks while one goes on (never a timer when idle).
    func run() async throws {
        await withGracefulShutdownHandler {
            var it = wakeups.makeAsyncIterator()
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                guard let due = tracker.withLock({ $0.nextDueUsec }) else {
                    guard await it.next() != nil else { break }
                    continue
                }
                let wait = max(0, Int64(clamping: due) - Clocks.monotonicUsec())
                try? await cancelWhenGracefulShutdown {
                    try await quietSleep(for: .microseconds(min(wait, 1_000_000)))
                }
                tick()
            }
        } onGracefulShutdown: {
            self.wake.finish()
        }
        tick()
    }
}
