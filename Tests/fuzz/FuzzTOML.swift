// libFuzzer target: iommud.toml — TOMLSubset over arbitrary text, then the config loader's
// validation (schema, ranges, paths, listen addresses, actions) and what the daemon derives
// from an accepted file. Built by run.sh against Sources/ConfigSyntax and the config layer
// of Sources/IOMMUDaemon (module IOMMUConfig), each compiled once, instrumented.
//
// Invariants: a syntax error or a problem names a line of the text; an accepted file has
// every value within its documented range, reads back the same from what check-config
// prints, and converts without trapping the way the daemon converts it; its [[expected]]
// rules are within their bounds and match faults without trapping.

import ConfigSyntax
@testable import IOMMUConfig
@testable import IOMMUCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTOML(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let lines = text.utf8.reduce(1) { $1 == 10 ? $0 + 1 : $0 }
    do {
        let table = try TOMLSubset.parse(text)
        for key in table.keys {
            precondition((1...lines).contains(table.line(of: key)!))
            if let section = table[key]?.table {
                for k in section.keys {
                    precondition((1...lines).contains(section.line(of: k)!))
                    if let s = section[k]?.string {
                        // What check-config prints reads back as the same string.
                        let back = try? TOMLSubset.parse("k = \(TOMLSubset.quoted(s))\n")
                        precondition(back?["k"]?.string == s)
                    }
                }
            }
        }
    } catch {
        precondition((1...lines).contains(error.line) && !error.message.isEmpty)
        precondition(error.message.utf8.count < 1000)
    }
    switch ConfigLoader.load(path: "fuzz.toml", text: text) {
    case .failure(let p):
        precondition(!p.problems.isEmpty)
        for problem in p.problems {
            precondition(problem.line.map { (1...lines).contains($0) } ?? false)
            precondition(problem.description.utf8.count < 1000)
        }
    case .success(let c):
        check(c)
        guard case .success(var back) = ConfigLoader.load(path: "fuzz.toml", text: c.rendered()) else {
            preconditionFailure("check-config's output does not load:\n\(c.rendered())")
        }
        back.file = c.file
        precondition(back == c)
    }
    return 0
}

/// Every value in range, and the daemon's conversions (DaemonCore+Storms, JournalSink,
/// ActionRunner, quietSleep's nanoseconds) done as it does them.
func check(_ c: Configuration) {
    precondition(ConfigRanges.stormThreshold.contains(c.stormThreshold))
    precondition(ConfigRanges.journalMaxPerSecond.contains(c.journalMaxPerSecond))
    precondition(ConfigRanges.actionsMaxPerMinute.contains(c.actionsMaxPerMinute))
    precondition(ConfigRanges.actionsMaxConcurrent.contains(c.actionsMaxConcurrent))
    for (d, r) in [
        (c.checkpointInterval, ConfigRanges.checkpointInterval), (c.stormWindow, ConfigRanges.stormWindow),
        (c.stormSummaryInterval, ConfigRanges.stormSummaryInterval), (c.rescanInterval, ConfigRanges.rescanInterval),
        (c.actionTimeout, ConfigRanges.actionTimeout),
    ] {
        precondition(r.contains(d.totalMicroseconds))
        let (seconds, attoseconds) = d.components
        _ = seconds * 1_000_000_000 + attoseconds / 1_000_000_000  // quietSleep's TimeAmount
        precondition(DurationSyntax.microseconds(d.configText) == .success(d.totalMicroseconds))
    }
    let policy = StormTracker.Policy(
        threshold: c.stormThreshold,
        windowUsec: UInt64(max(1, c.stormWindow.totalMilliseconds)) * 1000,
        summaryIntervalUsec: UInt64(max(1, c.stormSummaryInterval.totalMilliseconds)) * 1000)
    var tracker = StormTracker(policy: policy)
    var events: [StormTracker.Event] = []
    let start: UInt64 = 100 * 365 * 86_400 * 1_000_000  // a century of uptime
    for n in 0..<min(c.stormThreshold + 1, 50) {
        let f = Fault(
            vendor: .intel, kind: "dma-read", recoverable: false, device: PCIAddress(bus: 1, device: 0, function: 0),
            seq: UInt64(n), timestampUsec: start + UInt64(n), text: "")
        _ = tracker.observe(f, events: &events)
    }
    tracker.advance(toUsec: start + 2 * policy.windowUsec + policy.summaryIntervalUsec, events: &events)
    for e in events { _ = JournalEntries.storm(e, policy: policy, device: .init(), realtimeOffsetUsec: 0) }
    var journal = WindowBudget(limit: c.journalMaxPerSecond, periodUsec: 1_000_000)
    _ = journal.take(now: 1 << 50)
    var actions = WindowBudget(limit: c.actionsMaxPerMinute, periodUsec: 60_000_000)
    _ = actions.take(now: 0)
    for a in c.listen { precondition((1...65535).contains(a.port) && !a.host.isEmpty) }
    for argv in [c.onFault, c.onStorm] { precondition(argv.first.map { $0.hasPrefix("/") } ?? true) }
    checkExpected(c.expectedRules)
}

/// [[expected]]: at most 256 rules of unique, valid names, each with a criterion and at most 64
/// values a list; matching faults at the ends of every range never traps, and the ledger counts
/// what they match (ExpectedRule, ExpectedLedger).
func checkExpected(_ rules: ExpectedRules) {
    precondition(rules.rules.count <= ExpectedRules.maxRules)
    precondition(Set(rules.names).count == rules.names.count)
    for r in rules.rules {
        precondition(ExpectedRules.isValidName(r.name) && r.hasCriteria)
        for n in [r.devices.count, r.pciIDs.count, r.drivers.count, r.vendors.count, r.kinds.count, r.reasons.count] {
            precondition(n <= ExpectedRules.maxValues)
        }
        if let w = r.bootWindowUsec { precondition(w.upperBound <= 365 * 86_400 * 1_000_000) }
    }
    var pipeline = KmsgPipeline()
    pipeline.setExpectedRules(rules)
    var t = Topology()
    t.scanned = true
    let dev = PCIAddress(bus: 0, device: 0x14, function: 0)
    t.devices[dev] = Topology.Device(address: dev, vendorID: "0x8086", deviceID: "0xa36d", driver: "xhci_hcd")
    for (address, ts) in [(UInt64(0), UInt64(0)), (.max, .max), (0x8d00_0000, 120_000_000)] {
        let f = Fault(
            vendor: .intel, kind: .dmaRead, recoverable: false, device: dev, reason: 6,
            reasonText: "PTE Read access is not set", address: address, timestampUsec: ts, text: "")
        _ = rules.firstMatch(f, topology: t)
    }
    precondition(pipeline.ledger.expected.tallies.map(\.rule) == rules.names)
}
