import IOMMUCore
import Testing

@Suite("Storm tracker")
struct StormTrackerTests {
    static let dev = PCIAddress(bus: 3, device: 0, function: 0)

    static func fault(_ seq: UInt64, ts: UInt64, dev: PCIAddress = dev, write: Bool = true, address: UInt64 = 0x1000)
        -> Fault
    {
        Fault(
            vendor: .intel, kind: write ? .dmaWrite : .dmaRead, recoverable: false, device: dev, unit: "dmar3",
            reason: write ? 5 : 6, address: address, access: write ? .write : .read, seq: seq, timestampUsec: ts,
            text: "fault \(seq)")
    }

    /// threshold 3 per 1 s, summaries every 2 s.
    static let policy = StormTracker.Policy(threshold: 3, windowUsec: 1_000_000, summaryIntervalUsec: 2_000_000)

    @Test("threshold faults within the window are reported one by one; the next begins a storm")
    func begins() {
        var t = StormTracker(policy: Self.policy)
        var events: [StormTracker.Event] = []
        var d: [StormTracker.Disposition] = []
        for i in 0..<5 {
            d.append(t.observe(Self.fault(UInt64(i), ts: 10_000_000 + UInt64(i) * 100_000), events: &events))
        }
        #expect(d == [.single, .single, .single, .inStorm, .inStorm])
        #expect(events.count == 1)
        guard case .began(let s)? = events.first else {
            Issue.record("no began event")
            return
        }
        #expect(s.device == "0000:03:00.0")
        #expect(s.beganSeq == 3)
        #expect(s.beganUsec == 10_300_000)
        #expect(events.first?.seq == 3)
        #expect(t.isStorming("0000:03:00.0"))
        #expect(t.storming.map(\.total.faults) == [2])
    }

    @Test("kmsg times at the top of their range, going back, or jumping by centuries never trap or hang")
    func absurdTimes() {
        var t = StormTracker(policy: Self.policy)
        var events: [StormTracker.Event] = []
        // A storm near UInt64.max: window and summary arithmetic saturate.
        for i in 0..<6 { _ = t.observe(Self.fault(UInt64(i), ts: UInt64.max - 10 + UInt64(i)), events: &events) }
        t.advance(toUsec: .max, events: &events)
        // Times that go back (a concatenated file), then a storm and a jump of ~580,000 years.
        var u = StormTracker(policy: Self.policy)
        for (i, ts) in [5_000_000, 4_000_000, 3_000_000, 2_000_000, 1_000_000].enumerated() {
            _ = u.observe(Self.fault(UInt64(i), ts: UInt64(ts)), events: &events)
        }
        #expect(u.isStorming("0000:03:00.0"))
        var jump: [StormTracker.Event] = []
        u.advance(toUsec: UInt64(Int64.max), events: &jump)
        let summaries = jump.filter { if case .summary = $0 { return true } else { return false } }.count
        #expect(summaries <= 1, "\(summaries) summaries for one jump")
        #expect(!u.isStorming("0000:03:00.0"))
    }

    @Test("faults slower than the threshold never storm")
    func slow() {
        var t = StormTracker(policy: Self.policy)
        var events: [StormTracker.Event] = []
        for i in 0..<50 {
            #expect(t.observe(Self.fault(UInt64(i), ts: UInt64(i) * 400_000), events: &events) == .single)
        }
        #expect(events.isEmpty)
    }

    @Test("a storm ends once a whole window holds at most threshold faults, at that kmsg time")
    func ends() {
        var t = StormTracker(policy: Self.policy)
        var events: [StormTracker.Event] = []
        for i in 0..<10 { _ = t.observe(Self.fault(UInt64(i), ts: 1_000_000 + UInt64(i) * 10_000), events: &events) }
        // Last 4 faults at 1.06 … 1.09 s: the window holds 4 until 1.06 + 1 s.
        t.advance(toUsec: 2_050_000, events: &events)
        #expect(events.count == 1)
        t.advance(toUsec: 2_060_000, events: &events)
        #expect(events.count == 2)
        guard case .ended(let s) = events[1] else {
            Issue.record("expected an end, got \(events)")
            return
        }
        #expect(s.endedUsec == 2_060_000)
        #expect(s.total.faults == 7)
        #expect(s.sinceSummary.faults == 7)
        #expect(events[1].seq == 9)
        #expect(!t.isStorming("0000:03:00.0"))
        // After an end, threshold + 1 new faults are needed to begin again.
        var d: [StormTracker.Disposition] = []
        for i in 0..<4 { d.append(t.observe(Self.fault(UInt64(20 + i), ts: 2_100_000 + UInt64(i)), events: &events)) }
        #expect(d == [.single, .single, .single, .inStorm])
    }

    @Test("summaries every interval carry the faults since the last one: count, kinds, reasons, addresses")
    func summaries() {
        var t = StormTracker(policy: Self.policy)
        var events: [StormTracker.Event] = []
        var seq: UInt64 = 0
        // 10 faults a second for 5 s: a storm from the 4th fault on.
        for i in 0..<50 {
            seq += 1
            let f = Self.fault(seq, ts: UInt64(i) * 100_000, write: i % 5 != 0, address: 0x1000 + UInt64(i) * 0x1000)
            _ = t.observe(f, events: &events)
        }
        t.advance(toUsec: 10_000_000, events: &events)
        let kinds = events.map { e -> String in
            switch e {
            case .began: return "began"
            case .summary: return "summary"
            case .ended: return "ended"
            }
        }
        #expect(kinds == ["began", "summary", "summary", "ended"])
        // Began at 0.3 s with fault 4; summaries due at 2.3 s and 4.3 s; the end when the last
        // 4 faults (4.6 … 4.9 s) no longer fit in a window: 4.6 + 1 s.
        guard case .summary(let s1) = events[1], case .summary(let s2) = events[2], case .ended(let e) = events[3]
        else {
            Issue.record("unexpected events \(events)")
            return
        }
        #expect(s1.sinceSummary.faults == 20)  // faults 4…23 (0.3 s … 2.2 s)
        #expect(s2.sinceSummary.faults == 20)  // 2.3 s … 4.2 s
        #expect(e.sinceSummary.faults == 7)  // 4.3 s … 4.9 s
        #expect(e.total.faults == 47)
        #expect(e.endedUsec == 5_600_000)
        #expect(s1.sinceSummary.kinds[.dmaRead] == 4)
        #expect(s1.sinceSummary.kinds[.dmaWrite] == 16)
        #expect(s1.sinceSummary.reasons["0x05"] == 16)
        #expect(s1.sinceSummary.lowestAddress == 0x4000)
        #expect(s1.sinceSummary.highestAddress == 0x17000)
        // Deterministic: the same faults give the same events.
        var t2 = StormTracker(policy: Self.policy)
        var events2: [StormTracker.Event] = []
        seq = 0
        for i in 0..<50 {
            seq += 1
            _ = t2.observe(
                Self.fault(seq, ts: UInt64(i) * 100_000, write: i % 5 != 0, address: 0x1000 + UInt64(i) * 0x1000),
                events: &events2)
        }
        t2.advance(toUsec: 10_000_000, events: &events2)
        #expect(events == events2)
    }

    @Test("devices storm independently; faults without a device or timestamp never do")
    func perDevice() {
        var t = StormTracker(policy: Self.policy)
        var events: [StormTracker.Event] = []
        let other = PCIAddress(bus: 4, device: 0, function: 0)
        for i in 0..<8 {
            _ = t.observe(Self.fault(UInt64(2 * i), ts: UInt64(i) * 1000), events: &events)
            if i < 3 {
                // The other device stays at the threshold within the same window.
                #expect(
                    t.observe(Self.fault(UInt64(2 * i + 1), ts: UInt64(i) * 1000 + 1, dev: other), events: &events)
                        == .single)
            }
        }
        #expect(t.storming.map(\.device) == ["0000:03:00.0"])
        var noDevice = Self.fault(100, ts: 5)
        noDevice.device = nil
        var noTime = Self.fault(101, ts: 5)
        noTime.timestampUsec = nil
        for _ in 0..<10 {
            #expect(t.observe(noDevice, events: &events) == .single)
        }
        #expect(t.observe(noTime, events: &events) == .single)
    }

    @Test("nextDueUsec says when advance has work")
    func nextDue() {
        var t = StormTracker(policy: Self.policy)
        var events: [StormTracker.Event] = []
        #expect(t.nextDueUsec == nil)
        for i in 0..<4 { _ = t.observe(Self.fault(UInt64(i), ts: UInt64(i) * 1000), events: &events) }
        #expect(t.nextDueUsec == 1_000_000)  // the first of the last 4 leaves the window
    }
}

@Suite("Window budget (journal, actions)")
struct WindowBudgetTests {
    @Test("never more than the limit in any period, whatever the offered rate")
    func bounded() {
        var r = WindowBudget(limit: 5, periodUsec: 1_000_000)
        var sent: [Int64] = []
        var now: Int64 = 0
        for _ in 0..<20_000 {
            now += 137
            if r.take(now: now) { sent.append(now) }
        }
        #expect(sent.count >= 5 * Int(now / 1_000_000))
        for i in 5..<sent.count { #expect(sent[i] - sent[i - 5] >= 1_000_000) }
        #expect(r.nextFreeUsec(now: now) == sent[sent.count - 5] + 1_000_000)
    }
}
