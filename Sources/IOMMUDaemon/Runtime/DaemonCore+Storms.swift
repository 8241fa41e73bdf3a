import IOMMUCore

extension StormTracker.Policy {
    /// The [storm] section.
    init(_ c: Configuration) {
        self.init(
            threshold: c.stormThreshold,
            windowUsec: UInt64(max(1, c.stormWindow.totalMilliseconds)) * 1000,
            summaryIntervalUsec: UInt64(max(1, c.stormSummaryInterval.totalMilliseconds)) * 1000)
    }
}

/// What happened, in kmsg order: each fault with what the storm tracker made of it, and the
/// storm events between them.
enum FaultStreamItem: Sendable {
    case fault(Fault, StormTracker.Disposition)
    case storm(StormTracker.Event)
}

extension DaemonCore {
    /// Runs the faults `ingest` counted through the storm tracker (always, whether the journal
    /// is on or not: the storm gauge and `status` use it too).
    func trackStorms(_ faults: [Fault]) -> [FaultStreamItem] {
        guard !faults.isEmpty else { return [] }
        return state.withLock { s in
            var items: [FaultStreamItem] = []
            items.reserveCapacity(faults.count)
            var events: [StormTracker.Event] = []
            for f in faults {
                let d = s.storms.observe(f, events: &events)
                for e in events { items.append(.storm(e)) }
                events.removeAll(keepingCapacity: true)
                items.append(.fault(f, d))
            }
            return items
        }
    }

    /// Moves the storm clock to `usec` (kmsg time: µs since boot, CLOCK_MONOTONIC here) for
    /// summaries and ends while a device is quiet.
    func advanceStorms(toUsec usec: UInt64) -> [StormTracker.Event] {
        state.withLock { s in
            var events: [StormTracker.Event] = []
            s.storms.advance(toUsec: usec, events: &events)
            return events
        }
    }

    /// When the tracker next has something to do (kmsg time), nil when no storm is going on.
    var nextStormDueUsec: UInt64? { state.withLock { $0.storms.nextDueUsec } }

    var stormPolicy: StormTracker.Policy { state.withLock { $0.storms.policy } }

    func journaled(through seq: UInt64) {
        state.withLock { s in
            if seq > s.journaledSeq ?? 0 {
                s.journaledSeq = seq
                s.dirty = true
            }
        }
    }

    func countJournalError() { state.withLock { $0.journalErrors += 1 } }
    func countActionFailure() { state.withLock { $0.actionFailures += 1 } }

    /// The topology's view of a device, for journal sentences.
    func deviceInfo(_ device: PCIAddress?) -> JournalEntries.DeviceInfo {
        guard let device else { return JournalEntries.DeviceInfo() }
        return state.withLock { JournalEntries.DeviceInfo($0.topology.devices[device]) }
    }

    var ledgerTotals: (faults: UInt64, lost: UInt64, units: Int) {
        state.withLock { ($0.ledger.totalFaults, $0.ledger.lostRecords, $0.topology.units.count) }
    }
}
