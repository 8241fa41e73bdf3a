/// When a device faults faster than people can read, its faults are summarised instead of
/// reported one by one ([storm] in the configuration). Pure and deterministic on the faults'
/// kmsg timestamps (µs since boot): the same faults give the same storms in the daemon, in
/// replay and in tests, whether the journal is on or not. Time also moves on when the daemon
/// calls `advance(toUsec:)` with the current kmsg clock, so a storm can end when its device
/// goes quiet.
///
/// Rule: a storm begins with the fault that makes more than `threshold` faults of one device
/// within `window`; it ends once a whole `window` holds at most `threshold` of its faults
/// (ended at that moment, not when it was noticed); while it lasts a summary is due every
/// `summaryInterval`. After an end, `threshold` + 1 new faults are needed to begin again.
public struct StormTracker: Sendable, Equatable {
    public struct Policy: Sendable, Equatable {
        public var threshold: Int
        public var windowUsec: UInt64
        public var summaryIntervalUsec: UInt64
        /// At most this many devices are watched at once (each keeps its last `threshold` + 1
        /// fault times): a device forging requester ids must not grow the tracker without end.
        /// A device beyond it is not watched until others went quiet; its faults are reported
        /// one by one (the journal's budget still applies).
        public var deviceLimit: Int

        public init(
            threshold: Int = 10, windowUsec: UInt64 = 10_000_000, summaryIntervalUsec: UInt64 = 60_000_000,
            deviceLimit: Int = FaultLedger.defaultDeviceLimit
        ) {
            self.threshold = max(1, min(threshold, 1_000_000))
            self.windowUsec = max(1, windowUsec)
            self.summaryIntervalUsec = max(1, summaryIntervalUsec)
            self.deviceLimit = max(1, deviceLimit)
        }
    }

    /// What one stretch of a storm looked like (since it began, or since the last summary).
    public struct Tally: Sendable, Equatable {
        public var faults: UInt64 = 0
        public var kinds: [FaultKind: UInt64] = [:]
        /// By reason as the contract spells it (`0x05`), `-` when the line gave none.
        public var reasons: [String: UInt64] = [:]
        public var lowestAddress: UInt64?
        public var highestAddress: UInt64?
        /// kmsg seq of the last fault counted here.
        public var lastSeq: UInt64?

        public init() {}

        mutating func add(_ f: Fault) {
            faults += 1
            kinds[f.kind, default: 0] += 1
            reasons[f.reasonString ?? "-", default: 0] += 1
            if let a = f.address {
                lowestAddress = min(lowestAddress ?? a, a)
                highestAddress = max(highestAddress ?? a, a)
            }
            if let s = f.seq { lastSeq = max(lastSeq ?? 0, s) }
        }
    }

    /// One storm, as far as it went.
    public struct Storm: Sendable, Equatable {
        public var device: String
        public var unit: String?
        public var vendor: Vendor
        /// kmsg time (µs since boot) of the fault that began it.
        public var beganUsec: UInt64
        /// kmsg seq of the fault that began it.
        public var beganSeq: UInt64?
        /// kmsg time of its latest fault.
        public var lastFaultUsec: UInt64
        /// Every fault since it began (the one that began it included).
        public var total = Tally()
        /// Faults since the last summary (or since it began).
        public var sinceSummary = Tally()
        public var lastSummaryUsec: UInt64
        public var summaries: UInt64 = 0
        /// When it ended (kmsg time), for `ended` events.
        public var endedUsec: UInt64?
    }

    public enum Event: Sendable, Equatable {
        /// `storm.total` holds just the fault that began it.
        case began(Storm)
        /// `storm.sinceSummary` holds the faults of this interval; it is reset afterwards.
        case summary(Storm)
        /// `storm.sinceSummary` holds the faults since the last summary; `endedUsec` is set.
        case ended(Storm)

        public var storm: Storm {
            switch self {
            case .began(let s), .summary(let s), .ended(let s): return s
            }
        }

        /// The kmsg seq the event belongs to (exactly-once bookkeeping): the fault that began
        /// it, the last fault it summarises.
        public var seq: UInt64? {
            switch self {
            case .began(let s): return s.beganSeq
            case .summary(let s), .ended(let s):
                return s.sinceSummary.lastSeq ?? s.total.lastSeq ?? s.beganSeq
            }
        }
    }

    /// What happened to one fault.
    public enum Disposition: Sendable, Equatable {
        /// Report it on its own.
        case single
        /// Part of a storm: counted in its summaries, not reported on its own.
        case inStorm
    }

    struct DeviceState: Sendable, Equatable {
        /// kmsg times of the device's latest faults, at most threshold + 1, oldest first.
        var recent: [UInt64] = []
        var storm: Storm?

        mutating func observe(
            _ f: Fault, device dev: String, at t: UInt64, policy: Policy, events: inout [Event],
            nextSweepUsec: inout UInt64
        ) -> Disposition {
            recent.append(t)
            if recent.count > policy.threshold + 1 {
                recent.removeFirst(recent.count - policy.threshold - 1)
            }
            if storm != nil {
                storm!.total.add(f)
                storm!.sinceSummary.add(f)
                storm!.lastFaultUsec = t
                if storm!.unit == nil { storm!.unit = f.unit }
                return .inStorm
            }
            // A file source may go back in time: a fault before the oldest is within the window.
            if recent.count == policy.threshold + 1, t < recent[0] || t - recent[0] < policy.windowUsec {
                var s = Storm(
                    device: dev, unit: f.unit, vendor: f.vendor, beganUsec: t, beganSeq: f.seq,
                    lastFaultUsec: t,
                    lastSummaryUsec: t)
                s.total.add(f)
                events.append(.began(s))
                s.sinceSummary.add(f)
                storm = s
                nextSweepUsec = min(nextSweepUsec, t.saturatingAdd(min(policy.windowUsec, policy.summaryIntervalUsec)))
                return .inStorm
            }
            return .single
        }
    }

    public var policy: Policy
    var devices: [String: DeviceState] = [:]
    /// The latest kmsg time seen (faults or `advance`).
    public private(set) var nowUsec: UInt64 = 0
    /// Before this kmsg time `advance` has nothing to do (keeps a storm of faults cheap).
    var nextSweepUsec: UInt64 = 0

    public init(policy: Policy = Policy()) { self.policy = policy }

    /// Devices in a storm now.
    public var storming: [Storm] {
        devices.values.compactMap(\.storm).sorted { $0.device < $1.device }
    }

    public func isStorming(_ device: String) -> Bool { devices[device]?.storm != nil }

    /// Folds one fault in. Faults without a device or a timestamp are never part of a storm.
    public mutating func observe(_ f: Fault, events: inout [Event]) -> Disposition {
        guard let dev = f.deviceLabel, let ts = f.timestampUsec else { return .single }
        let t = max(ts, nowUsec)
        advance(toUsec: t, events: &events)
        if devices[dev] == nil && devices.count >= policy.deviceLimit { return .single }
        // In place (the `default:` subscript's modify accessor): a copy of the state taken out
        // and written back would copy its array and the storm's four dictionaries on every
        // fault of a storm — an allocation per fault, at the rate a storm comes in.
        var sweep = nextSweepUsec
        let disposition = devices[dev, default: DeviceState()].observe(
            f, device: dev, at: t, policy: policy, events: &events, nextSweepUsec: &sweep)
        nextSweepUsec = sweep
        return disposition
    }

    /// Moves the kmsg clock to `usec`: due summaries, and storms whose device calmed down.
    public mutating func advance(toUsec usec: UInt64, events: inout [Event]) {
        guard usec >= nowUsec else { return }
        nowUsec = usec
        guard usec >= nextSweepUsec else { return }
        for dev in devices.keys.sorted() {
            guard var d = devices[dev], var s = d.storm else { continue }
            // The storm ends when the oldest of the last threshold+1 faults leaves the window.
            let endsAt =
                d.recent.count == policy.threshold + 1 ? d.recent[0].saturatingAdd(policy.windowUsec) : s.beganUsec
            // Summaries due before the end (or before now); after an absurd jump in kmsg time (a
            // file source can hold any timestamp) only the last of more than 1,000 due is made.
            let limit = min(usec, endsAt)
            let interval = policy.summaryIntervalUsec
            if limit > s.lastSummaryUsec, case let due = (limit - s.lastSummaryUsec) / interval, due > 1000 {
                s.lastSummaryUsec += (due - 1) * interval
            }
            while limit >= s.lastSummaryUsec, limit - s.lastSummaryUsec >= interval {
                s.lastSummaryUsec += policy.summaryIntervalUsec
                s.summaries += 1
                events.append(.summary(s))
                s.sinceSummary = Tally()
            }
            if endsAt <= usec {
                s.endedUsec = max(endsAt, s.lastFaultUsec)
                events.append(.ended(s))
                d.storm = nil
                d.recent.removeAll()
            } else {
                d.storm = s
            }
            devices[dev] = d
        }
        // Devices that are not storming and whose faults left the window need no memory.
        devices = devices.filter {
            $0.value.storm != nil || ($0.value.recent.last.map { $0.saturatingAdd(policy.windowUsec) > usec } ?? false)
        }
        nextSweepUsec = min(nextDueUsec ?? .max, usec.saturatingAdd(policy.windowUsec))
    }

    /// When `advance` next has something to do (a summary or an end), in kmsg time; nil when
    /// no storm is going on.
    public var nextDueUsec: UInt64? {
        var due: UInt64?
        for d in devices.values {
            guard let s = d.storm else { continue }
            let endsAt =
                d.recent.count == policy.threshold + 1 ? d.recent[0].saturatingAdd(policy.windowUsec) : s.beganUsec
            let next = min(endsAt, s.lastSummaryUsec.saturatingAdd(policy.summaryIntervalUsec))
            due = min(due ?? next, next)
        }
        return due
    }
}
