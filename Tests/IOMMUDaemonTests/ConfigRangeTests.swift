import ConfigSyntax
import IOMMUCore
import Logging
import Testing

@testable import IOMMUDaemon

/// Every number and duration of iommud.toml has a range (`Configuration.schema`), and the
/// invariant that follows: every file check-config accepts, the daemon can run.
@Suite("config ranges")
struct ConfigRangeTests {
    typealias Ranged = (section: String, key: String, kind: ConfigValueKind)

    /// The ranged keys, from the schema itself (a key added with a range is tested here too).
    static let ranged: [Ranged] = Configuration.schema.flatMap { section, keys in
        keys.compactMap { key, kind in kind.rangeText == nil ? nil : (section, key, kind) }
    }.sorted { ($0.section, $0.key) < ($1.section, $1.key) }

    /// The key's lowest or highest value, as a TOML value.
    static func extreme(_ kind: ConfigValueKind, max: Bool) -> String {
        switch kind {
        case .duration(let r):
            return TOMLSubset.quoted(DurationSyntax.text(microseconds: max ? r.upperBound : r.lowerBound))
        case .integer(let r): return String(max ? r.upperBound : r.lowerBound)
        default: return ""
        }
    }

    /// A file setting every ranged key, each to its maximum when `max(key)`, else its minimum.
    static func file(_ max: (String) -> Bool) -> String {
        var text = ""
        for section in Set(ranged.map(\.section)).sorted() {
            text += "[\(section)]\n"
            for r in ranged where r.section == section {
                text += "\(r.key) = \(extreme(r.kind, max: max(r.key)))\n"
            }
        }
        return text
    }

    @Test("every number and duration has a range")
    func everyNumberRanged() {
        let keys = Set(Self.ranged.map { "\($0.section).\($0.key)" })
        #expect(
            keys == [
                "state.checkpoint_interval", "storm.threshold", "storm.window", "storm.summary_interval",
                "storm.journal_max_per_second", "topology.rescan_interval", "actions.timeout", "actions.max_per_minute",
                "actions.max_concurrent", "http.max_connections", "http.request_timeout", "topology.max_devices",
            ])
    }

    @Test("config/iommud.toml documents each range next to its key")
    func documented() {
        let lines = readTestFile(packageRoot + "/config/iommud.toml").split(
            separator: "\n", omittingEmptySubsequences: false)
        for r in Self.ranged {
            guard let at = lines.firstIndex(where: { $0.hasPrefix("\(r.key) = ") }) else {
                Issue.record("config/iommud.toml has no \(r.key)")
                continue
            }
            // The comment block right above the key.
            var k = at - 1
            var comment = ""
            while k >= 0, lines[k].hasPrefix("#") {
                comment = lines[k] + "\n" + comment
                k -= 1
            }
            let range = r.kind.rangeText!.replacingOccurrences(of: "from ", with: "")
            #expect(comment.contains("Range: \(range)."), "\(r.section).\(r.key): say \"Range: \(range).\" above it")
        }
    }

    @Test("the extreme values check-config accepts — min and max of every key — run without trapping")
    func extremesRun() async throws {
        let picks: [(String) -> Bool] = [{ _ in false }, { _ in true }, { $0.count % 2 == 0 }, { $0.count % 2 == 1 }]
        for pick in picks {
            let text = Self.file(pick)
            let c = try ConfigLoader.load(path: "extremes.toml", text: text).get()
            var back = try ConfigLoader.load(path: "extremes.toml", text: c.rendered()).get()
            back.file = c.file
            #expect(back == c, "the effective configuration reads back the same:\n\(text)")
            try await Self.runDerived(c)
        }
    }

    /// Builds what the daemon builds from a configuration, the way it does, and runs it a little.
    static func runDerived(_ c: Configuration) async throws {
        // [storm]: the tracker's policy (DaemonCore+Storms), storms at the far end of kmsg time
        // (100 years of uptime), and the journal entries that describe them.
        let policy = StormTracker.Policy(c)
        #expect(policy.windowUsec == UInt64(c.stormWindow.totalMicroseconds))
        #expect(policy.summaryIntervalUsec == UInt64(c.stormSummaryInterval.totalMicroseconds))
        #expect(policy.threshold == c.stormThreshold)
        var tracker = StormTracker(policy: policy)
        var events: [StormTracker.Event] = []
        let start: UInt64 = 100 * 365 * 86_400 * 1_000_000
        let burst = min(c.stormThreshold, 2000) + 1
        for n in 0..<burst {
            let f = Fault(
                vendor: .intel, kind: "dma-read", recoverable: false,
                device: PCIAddress(bus: 3, device: 0, function: 0),
                unit: "dmar0", reason: 6, address: UInt64(n), seq: UInt64(n), timestampUsec: start + UInt64(n),
                text: "t")
            _ = tracker.observe(f, events: &events)
        }
        tracker.advance(toUsec: start + policy.windowUsec / 2, events: &events)
        tracker.advance(toUsec: start + 3 * policy.windowUsec + 2 * policy.summaryIntervalUsec, events: &events)
        _ = tracker.nextDueUsec
        if c.stormThreshold < burst {
            #expect(events.contains { if case .began = $0 { return true } else { return false } })
            #expect(events.contains { if case .ended = $0 { return true } else { return false } })
        }
        for e in events {
            _ = JournalEntries.storm(e, policy: policy, device: .init(), realtimeOffsetUsec: 1_700_000_000_000_000)
        }
        // [storm] journal_max_per_second: the journal sink's budget (JournalSink).
        var journal = WindowBudget(limit: c.journalMaxPerSecond, periodUsec: 1_000_000)
        var taken = 0
        while journal.take(now: 5) { taken += 1 }
        let nextFree = journal.nextFreeUsec(now: 5)
        #expect(taken == c.journalMaxPerSecond && nextFree == 1_000_005)
        // [actions]: the runner's limits and its per-minute budget (ActionService).
        let limits = ActionService.Limits(c)
        var starts = WindowBudget(limit: limits.maxPerMinute, periodUsec: 60_000_000)
        taken = 0
        while starts.take(now: 0) { taken += 1 }
        #expect(taken == limits.maxPerMinute && limits.maxConcurrent == c.actionsMaxConcurrent)
        #expect(!limits.timeout.configText.isEmpty)
        // [http]: the connection limits the daemon builds (lowered to fit RLIMIT_NOFILE).
        let http = Daemon.connectionLimits(c, logger: Logger(label: "test"))
        #expect(http.maxConnections >= 1 && http.maxConnections <= c.httpMaxConnections)
        #expect(http.requestTimeout.nanoseconds > 0)
        // [topology] max_devices: the ledger's cap and the storm tracker's.
        var pipeline = KmsgPipeline()
        pipeline.setDeviceLimit(c.maxDevices)
        #expect(pipeline.ledger.deviceLimit == c.maxDevices && policy.deviceLimit == c.maxDevices)
        // The timers: checkpoint, rescan, action timeout, through quietSleep (cancelled at once).
        for d in [c.checkpointInterval, c.rescanInterval, c.actionTimeout, ActionService.killGrace] {
            let sleep = Task { try await quietSleep(for: d) }
            sleep.cancel()
            await #expect(throws: CancellationError.self) { try await sleep.value }
        }
    }

    @Test(
        "out-of-range values are refused with file, line and key",
        arguments: [
            ("[storm]\nwindow = \"250000000d\"\n", 2, "storm.window", "must be from 1s to 1d, not \"250000000d\""),
            ("[storm]\nwindow = \"999ms\"\n", 2, "storm.window", "must be from 1s to 1d, not \"999ms\""),
            ("[storm]\nwindow = \"1d1us\"\n", 2, "storm.window", "from 1s to 1d"),
            ("[storm]\nwindow = \"99999999999999999999d\"\n", 2, "storm.window", "from 1s to 1d"),
            (
                "\n[storm]\nthreshold = 9223372036854775807\n", 3, "storm.threshold",
                "must be from 1 to 10000, not 9223372036854775807"
            ),
            ("[storm]\nthreshold = 10_001\n", 2, "storm.threshold", "from 1 to 10000"),
            ("[storm]\nthreshold = -1\n", 2, "storm.threshold", "not -1"),
            ("[storm]\nthreshold = 9223372036854775808\n", 2, "storm.threshold", "too large a number"),
            ("[storm]\nsummary_interval = \"0s\"\n", 2, "storm.summary_interval", "from 1s to 1d"),
            ("[storm]\nsummary_interval = \"2d\"\n", 2, "storm.summary_interval", "from 1s to 1d"),
            ("[storm]\njournal_max_per_second = 10001\n", 2, "storm.journal_max_per_second", "from 1 to 10000"),
            ("[storm]\njournal_max_per_second = 0\n", 2, "storm.journal_max_per_second", "from 1 to 10000"),
            ("[topology]\nrescan_interval = \"110000d\"\n", 2, "topology.rescan_interval", "from 10s to 1d"),
            ("[topology]\nrescan_interval = \"9s\"\n", 2, "topology.rescan_interval", "from 10s to 1d"),
            ("[state]\ncheckpoint_interval = \"9ms\"\n", 2, "state.checkpoint_interval", "from 10ms to 1h"),
            ("[state]\ncheckpoint_interval = \"1h1s\"\n", 2, "state.checkpoint_interval", "from 10ms to 1h"),
            ("[state]\ncheckpoint_interval = \"0\"\n", 2, "state.checkpoint_interval", "from 10ms to 1h"),
            ("[actions]\ntimeout = \"999ms\"\n", 2, "actions.timeout", "from 1s to 1h"),
            ("[actions]\ntimeout = \"2h\"\n", 2, "actions.timeout", "from 1s to 1h"),
            ("[actions]\nmax_per_minute = 601\n", 2, "actions.max_per_minute", "from 1 to 600"),
            ("[actions]\nmax_per_minute = 0\n", 2, "actions.max_per_minute", "from 1 to 600"),
            ("[actions]\nmax_concurrent = 65\n", 2, "actions.max_concurrent", "from 1 to 64"),
            ("[actions]\nmax_concurrent = 0\n", 2, "actions.max_concurrent", "from 1 to 64"),
        ])
    func refused(_ text: String, _ line: Int, _ key: String, _ message: String) {
        guard case .failure(let p) = ConfigLoader.load(path: "/etc/iommud/iommud.toml", text: text) else {
            Issue.record("accepted: \(text)")
            return
        }
        #expect(p.problems.count == 1, "\(p)")
        #expect(p.problems.first?.line == line, "\(p)")
        #expect(p.description.hasPrefix("/etc/iommud/iommud.toml:\(line): "), "\(p)")
        #expect(p.description.contains("'\(key)'"), "\(p)")
        #expect(p.description.contains(message), "\(p)")
    }

    @Test("a range's ends are in it: each key alone at its min and max is accepted")
    func ends() throws {
        for r in Self.ranged {
            for max in [false, true] {
                let text = "[\(r.section)]\n\(r.key) = \(Self.extreme(r.kind, max: max))\n"
                #expect(throws: Never.self, "\(text)") { try ConfigLoader.load(path: "t.toml", text: text).get() }
            }
        }
    }
}

/// The top of `[topology] max_devices` must fit the size a checkpoint is read back at.
@Suite("max_devices and the checkpoint")
struct MaxDevicesCheckpointTests {
    @Test("at the top of max_devices, with 4 series a device, the checkpoint stays under its read limit")
    func fits() {
        var l = FaultLedger()
        let sample = 2048
        for i in 0..<sample {
            func hex2(_ v: Int) -> String { (v < 16 ? "0" : "") + String(v, radix: 16) }
            let dev = "ffff:" + hex2(i >> 5 & 0xff) + ":" + hex2(i & 0x1f) + ".7"
            for (kind, reason) in [
                (FaultKind.dmaRead, "0x06"), (.dmaWrite, "0x05"), (.dmaRead, "0x02"), (.dmaWrite, "0x0c"),
            ] {
                l.addFaults(
                    FaultCounterKey(
                        unit: "dmar12", device: dev, vendor: .intel, kind: kind, reason: reason, recoverable: false),
                    count: UInt64.max - UInt64(i))
            }
        }
        let state = CheckpointState(
            bootID: "18dabb0d-b6fd-4241-a1dd-35e4db3aecae", resumeSeq: .max, countedSeq: .max, writtenUsec: .max,
            ledger: l, lifetime: LifetimeTotals())
        let perDevice = Double(CheckpointCodec.encode(state).utf8.count) / Double(sample)
        let atTop = perDevice * Double(ConfigRanges.maxDevices.upperBound)
        #expect(atTop < Double(CheckpointStore.sizeLimit) / 2, "\(Int(perDevice)) B a device: \(Int(atTop) >> 20) MiB")
    }
}
