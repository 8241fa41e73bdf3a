import IOMMUCore
import Testing

/// AMD-Vi IO_PAGE_FAULT and SMMUv3 events behind the kernel's ratelimit (one call per event):
/// logged + Σ N, exact once no window may still owe its count, and the bounds of `status` that
/// agree with it (docs/kernel-formats.md §6.4).
@Suite("Ratelimited events: AMD-Vi and SMMUv3")
struct EventRatelimitTests {
    static func amd(_ t: Double, bus: Int = 6, fallback: Bool = false) -> String {
        let ts = String(format: "[%12.6f] ", t)
        if fallback {
            return ts
                + String(
                    format:
                        "AMD-Vi: Event logged [IO_PAGE_FAULT device=0000:%02x:00.0 domain=0x0000 address=0x1000 flags=0x0020]",
                    bus)
        }
        return ts
            + String(
                format:
                    "nvidia 0000:%02x:00.0: AMD-Vi: Event logged [IO_PAGE_FAULT domain=0x0000 address=0xfc18a000 flags=0x0020]",
                bus)
    }

    static func smmu(_ t: Double) -> String {
        let ts = String(format: "[%12.6f] ", t)
        return [
            "arm-smmu-v3 9050000.smmuv3: event 0x10 received:",
            "arm-smmu-v3 9050000.smmuv3: \t0x0000000800000010",
            "arm-smmu-v3 9050000.smmuv3: \t0x0000000000000000",
            "arm-smmu-v3 9050000.smmuv3: \t0x00000000dead0000",
            "arm-smmu-v3 9050000.smmuv3: \t0x0000000000000000",
        ].map { ts + $0 }.joined(separator: "\n")
    }

    static func report(_ lines: [String]) -> (FaultLedger, StatusReport) {
        let (pipeline, _) = PipelineReplay.run(lines.joined(separator: "\n") + "\n", format: .dmesg)
        return (pipeline.ledger, StatusReport(ledger: pipeline.ledger, topology: Topology(), daemon: nil))
    }

    static func unit(_ r: StatusReport, _ vendor: Vendor) -> UnitStatus? {
        r.units.first { $0.vendor == vendor && $0.logged + $0.expected > 0 }
    }

    @Test("fewer events than the burst in a window: nothing can be pending, the count is exact")
    func belowBurst() throws {
        let (ledger, r) = Self.report((0..<9).map { Self.amd(100 + Double($0) * 0.1) })
        #expect(!ledger.eventWindows.pending(.amd))
        let u = try #require(Self.unit(r, .amd))
        #expect(
            u.estimate
                == DMARFaultEstimator.Estimate(
                    value: 9, lower: 9, upper: 9, exact: true, condition: u.estimate?.condition ?? ""))
        #expect(u.lower.kind == "exact" && u.upper.kind == "exact" && u.upper.value == 9)
    }

    @Test("a device prints its burst within 5 s: its count may be pending, so no upper bound anywhere")
    func burstReached() throws {
        let (ledger, r) = Self.report((0..<10).map { Self.amd(100 + Double($0) * 0.1) })
        #expect(ledger.eventWindows.pending(.amd))
        let u = try #require(Self.unit(r, .amd))
        let e = try #require(u.estimate)
        #expect(!e.exact && e.upper == nil && e.value == 10 && e.lower == 10)
        #expect(e.condition.contains("not printed yet"))
        // The bounds agree: not "exactly 10", and no upper bound that does not hold.
        #expect(u.lower.kind == "lower" && u.upper.kind == "unbounded" && u.upper.value == nil)
        #expect(r.text().contains("unbounded (see the estimate)"))
    }

    @Test("the next window's first event brings the count: logged + N, exact again")
    func countArrives() throws {
        var lines = (0..<10).map { Self.amd(100 + Double($0) * 0.1) }
        lines.append("[  106.000000] amd_iommu_report_page_fault: 5 callbacks suppressed")
        lines.append(Self.amd(106))
        let (ledger, r) = Self.report(lines)
        #expect(!ledger.eventWindows.pending(.amd))
        let u = try #require(Self.unit(r, .amd))
        let e = try #require(u.estimate)
        #expect(e.exact && e.value == 16 && e.upper == 16)
        #expect(u.lower.value == 11 && u.upper.value == 16 && u.upper.kind == "upper")
        #expect(r.text().contains("AMD-Vi events behind the kernel's ratelimit"))
    }

    @Test("a line within the jiffy slack of the interval stays in the window (the safe side)")
    func slack() {
        var lines = (0..<9).map { Self.amd(100 + Double($0) * 0.1) }
        lines.append(Self.amd(105.01))  // 5.01 s after the first: maybe the same window
        #expect(Self.report(lines).0.eventWindows.pending(.amd))
        lines[9] = Self.amd(105.1)  // surely a new one
        #expect(!Self.report(lines).0.eventWindows.pending(.amd))
    }

    @Test("states are per device; the fallback call site is one state for every device")
    func states() {
        // 5 devices × 5 events: no device reaches the burst.
        let perDevice = (0..<25).map { Self.amd(100 + Double($0) * 0.01, bus: 0x10 + $0 % 5) }
        #expect(!Self.report(perDevice).0.eventWindows.pending(.amd))
        // The same through the fallback (`device=`) line: one shared state reaches it.
        let fallback = (0..<25).map { Self.amd(100 + Double($0) * 0.01, bus: 0x10 + $0 % 5, fallback: true) }
        #expect(Self.report(fallback).0.eventWindows.pending(.amd))
    }

    @Test("without timestamps a window never ends: the burst in all means pending")
    func noTimestamps() {
        let lines = (0..<10).map { String(Self.amd(100 + Double($0) * 10).dropFirst(15)) }
        let (pipeline, _) = PipelineReplay.run(lines.joined(separator: "\n") + "\n", format: .dmesg)
        #expect(pipeline.ledger.eventWindows.pending(.amd))
    }

    @Test("SMMUv3: one state for every unit")
    func smmuv3() throws {
        let calm = Self.report((0..<9).map { Self.smmu(50 + Double($0) * 0.2) })
        #expect(!calm.0.eventWindows.pending(.armSMMUv3))
        #expect(Self.unit(calm.1, .armSMMUv3)?.estimate?.exact == true)
        let storm = Self.report((0..<12).map { Self.smmu(50 + Double($0) * 0.2) })
        #expect(storm.0.eventWindows.pending(.armSMMUv3))
        let u = try #require(Self.unit(storm.1, .armSMMUv3))
        #expect(u.estimate?.upper == nil && u.upper.kind == "unbounded")
    }

    @Test("several units: N is shared by their ratelimited events, and not exact")
    func severalUnits() {
        var ledger = FaultLedger()
        for (i, unit) in ["ivhd0", "ivhd0", "ivhd0", "ivhd1"].enumerated() {
            var f = StatusReportTests.fault(.amd, bus: UInt8(i), unit: unit)
            f.timestampUsec = 1_000_000 * UInt64(i + 1)
            ledger.record(.fault(f))
        }
        ledger.record(
            .marker(.suppressed(source: "amd_iommu_report_page_fault", vendor: .amd, count: 8), seq: nil, tsUsec: nil))
        let e = ledger.unitEstimates()
        #expect(e["ivhd0"]?.value == 3 + 6 && e["ivhd1"]?.value == 1 + 2)
        #expect(e["ivhd0"]?.exact == false && e["ivhd0"]?.upper == 3 + 8)
    }

    @Test("the windows survive a checkpoint; a checkpoint without them leaves the family unsure")
    func checkpoint() throws {
        let (ledger, _) = Self.report((0..<10).map { Self.amd(100 + Double($0) * 0.1) })
        let state = CheckpointState(
            bootID: "b", resumeSeq: 1, countedSeq: 1, writtenUsec: 0, ledger: ledger, lifetime: LifetimeTotals())
        let text = CheckpointCodec.encode(state)
        #expect(try CheckpointCodec.decode(text).ledger.eventWindows == ledger.eventWindows)

        let (calm, _) = Self.report((0..<3).map { Self.amd(100 + Double($0) * 0.1) })
        let calmText = CheckpointCodec.encode(
            CheckpointState(
                bootID: "b", resumeSeq: 1, countedSeq: 1, writtenUsec: 0, ledger: calm, lifetime: LifetimeTotals()))
        #expect(try !CheckpointCodec.decode(calmText).ledger.eventWindows.pending(.amd))
        // An older iommud's checkpoint: no event_window lines (and a trailer that matches).
        let lines = calmText.split(separator: "\n").filter { !$0.hasPrefix("event_window") && !$0.hasPrefix("end\t") }
        let body = lines.joined(separator: "\n") + "\n"
        let old = try CheckpointCodec.decode(
            body + "end\t\(lines.count)\t\(hex(CheckpointCodec.fnv1a(body), width: 16))\n")
        #expect(old.ledger.eventWindows.pending(.amd))
        #expect(!old.ledger.eventWindows.pending(.armSMMUv3))
    }
}

/// The checkpoints the fuzz target (Tests/fuzz/FuzzCheckpoint.swift) once trapped on: decoded,
/// resumed at the extremes of every count, and rendered, as the target does.
@Suite("fuzz regressions: checkpoint")
struct CheckpointRegressionTests {
    @Test("every input decodes or is refused; a decoded one resumes and renders without trapping")
    func checkpoints() {
        let dir = Fixtures.fuzzRegressions("checkpoint")
        let names = listFiles(dir)
        #expect(!names.isEmpty)
        for name in names {
            guard let state = try? CheckpointCodec.decode(readFile(dir + "/" + name)) else { continue }
            var l = state.ledger
            l.recordLoss(LossRange(afterSeq: .max, beforeSeq: .max, count: .max))
            l.record(
                .marker(
                    .suppressed(source: "amd_iommu_report_page_fault", vendor: .amd, count: .max), seq: nil,
                    tsUsec: 0))
            _ = l.unitEstimates()
            _ = StatusReport(ledger: l, topology: Topology(), daemon: nil).text()
        }
    }
}

/// The kmsg streams the classifier fuzz target once failed on: through the classifier as the
/// daemon reads (gate, classify), then the end of input leaves no group pending.
@Suite("fuzz regressions: classifier")
struct ClassifierRegressionTests {
    @Test("every input ends with nothing pending")
    func streams() {
        let dir = Fixtures.fuzzRegressions("classifier")
        let names = listFiles(dir)
        #expect(!names.isEmpty)
        for name in names {
            var c = Classifier(options: Classifier.Options(acceptUserFacility: true))
            var out: [ClassifierOutput] = []
            for chunk in readFile(dir + "/" + name).split(separator: "\n", omittingEmptySubsequences: false)
                .reduce(
                    into: [String](),
                    { r, l in
                        if l.hasPrefix(" "), !r.isEmpty { r[r.count - 1] += "\n" + l } else { r.append(String(l)) }
                    })
            {
                if let r = KmsgRecordParser.parse(chunk), c.wants(r) { c.classify(r, into: &out) }
            }
            c.finish(into: &out)
            #expect(c.pendingSince == nil, "\(name)")
        }
    }
}
