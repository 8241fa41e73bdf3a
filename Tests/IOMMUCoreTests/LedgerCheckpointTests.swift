@testable import IOMMUCore
import Testing

@Suite("Ledger and checkpoint codec")
struct LedgerCheckpointTests {
    static func sampleLedger() -> FaultLedger {
        var l = FaultLedger()
        let lines = [
            "3,10,100,-;DMAR: [DMA Read NO_PASID] Request device [00:01.0] fault addr 0x1000 [fault reason 0x06] PTE Read access is not set",
            "3,11,200,-;DMAR: [DMA Write NO_PASID] Request device [00:01.0] fault addr 0xdead0000 [fault reason 0x05] PTE Write access is not set",
            "4,12,300,-;dmar_fault: 2 callbacks suppressed",
            "3,13,400,-;DMAR: DRHD: handling fault status reg 3",
            "3,14,500,-;AMD-Vi: Event logged [IO_PAGE_FAULT device=0000:06:00.0 domain=0x000e address=0xfffffff0 flags=0x0020]",
        ]
        var c = Classifier()
        var out: [ClassifierOutput] = []
        for s in lines { c.classify(KmsgRecordParser.parse(s)!, into: &out) }
        for o in out { l.record(o, realtimeOffsetUsec: 1_700_000_000_000_000) }
        l.recordKmsg(records: 5, lastSeq: 14)
        l.recordLoss(LossRange(afterSeq: nil, beforeSeq: 10, count: 10))
        l.recordInterrupts([
            InterruptObservation(irq: 24, unit: "dmar0", vector: "fault", counts: ["CPU0": 4, "CPU1": 1])
        ])
        return l
    }

    @Test("series kept with their devices and apart from them read as one set of counters")
    func seriesViews() {
        func fault(_ bus: UInt8?, unit: String?, reason: UInt16?, recoverable: Bool = false) -> Fault {
            Fault(
                vendor: .intel, kind: .dmaRead, recoverable: recoverable,
                device: bus.map { PCIAddress(bus: $0, device: 0, function: 0) }, unit: unit, reason: reason,
                text: "fault")
        }
        let faults = [
            fault(1, unit: "dmar0", reason: 6), fault(2, unit: "dmar1", reason: 5), fault(1, unit: "dmar0", reason: 5),
            fault(nil, unit: "dmar0", reason: 6), fault(1, unit: "dmar0", reason: 6), fault(1, unit: nil, reason: 6),
            fault(2, unit: "dmar1", reason: nil, recoverable: true),
        ]
        var l = FaultLedger()
        for f in faults { l.record(.fault(f)) }
        func key(_ dev: String, _ unit: String, _ reason: String, _ rec: Bool = false) -> FaultCounterKey {
            FaultCounterKey(unit: unit, device: dev, vendor: .intel, kind: .dmaRead, reason: reason, recoverable: rec)
        }
        let expected: [FaultCounterKey: UInt64] = [
            key("0000:01:00.0", "dmar0", "0x06"): 2, key("0000:01:00.0", "dmar0", "0x05"): 1,
            key("0000:01:00.0", "unknown", "0x06"): 1, key("0000:02:00.0", "dmar1", "0x05"): 1,
            key("0000:02:00.0", "dmar1", "", true): 1, key("unknown", "dmar0", "0x06"): 1,
        ]
        #expect(l.faults == expected)
        var walked: [FaultCounterKey: UInt64] = [:]
        l.forEachSeries { walked[$0, default: 0] += $1 }
        #expect(walked == expected)
        #expect(l.totalFaults == 7 && l.hasFaults)
        #expect(l.devices.count == 2 && l.devicelessFaults.count == 1)
        #expect(l.devices["0000:01:00.0"]?.total == 4 && l.devices["0000:01:00.0"]?.unit == "unknown")
        let units = l.unitFaults()
        #expect(units["dmar0"]?.nonRecoverable == 4 && units["dmar1"]?.recoverable == 1)
        #expect(units["unknown"]?.nonRecoverable == 1)
        // The same faults of each device, the devices met in another order: the same ledger.
        var other = FaultLedger()
        for f in faults where f.device?.bus != 1 { other.record(.fault(f)) }
        for f in faults where f.device?.bus == 1 { other.record(.fault(f)) }
        #expect(other.devices == l.devices && other == l)
        // Read back from the counters alone (a checkpoint), in any order, the counts are the same.
        var back = FaultLedger()
        for (k, v) in expected.sorted(by: { $0.key > $1.key }) { back.addFaults(k, count: v) }
        #expect(back.faults == expected && back.totalFaults == 7)
        #expect(back.devices["0000:01:00.0"]?.byReason == ["0x06": 3, "0x05": 1])
    }

    @Test("lifetime totals saturate: a checkpoint's counts at 2^64-1 fold in without trapping")
    func lifetimeSaturates() {
        var l = FaultLedger()
        l.suppressed = ["dmar_fault": .max, "amd_iommu_int_thread": .max]
        l.lostRecords = .max
        l.addFaults(
            FaultCounterKey(
                unit: "dmar0", device: "0000:00:01.0", vendor: .intel, kind: .dmaRead, reason: "0x06",
                recoverable: false), count: .max)
        l.addFaults(
            FaultCounterKey(
                unit: "dmar0", device: "0000:00:02.0", vendor: .intel, kind: .dmaRead, reason: "0x06",
                recoverable: false), count: .max)
        var t = LifetimeTotals()
        t.faults = .max
        t.fold(l)
        let u = t.including(l)
        #expect(u.faults == .max && u.nonRecoverable == .max && u.suppressed == .max && u.lostRecords == .max)
    }

    @Test("the ledger counts per key, device, suppressed, overflow")
    func counts() {
        let l = Self.sampleLedger()
        #expect(l.totalFaults == 3)
        #expect(l.devices["0000:00:01.0"]?.total == 2)
        #expect(l.devices["0000:00:01.0"]?.byKind[.dmaRead] == 1)
        #expect(l.devices["0000:06:00.0"]?.lastFault?.access == .write)
        #expect(l.suppressed["dmar_fault"] == 2)
        #expect(l.suppressed(for: .intel) == 2)
        #expect(l.overflows[OverflowKey(vendor: .intel, unit: "unknown", log: "fault")] == 1)
        #expect(l.lostRecords == 10)
        #expect(l.devices["0000:00:01.0"]?.lastFaultRealtimeUsec == 1_700_000_000_000_200)
    }

    @Test("encode → decode gives the same ledger")
    func roundTrip() throws {
        var t = LifetimeTotals()
        t.previousBoots = 3
        t.faults = 42
        let s = CheckpointState(
            bootID: "e759fd7b-1714-4721-9642-dba6c5d18d48", resumeSeq: 9, countedSeq: 14, writtenUsec: 123,
            ledger: Self.sampleLedger(), lifetime: t, journaledSeq: 12)
        let text = CheckpointCodec.encode(s)
        let back = try CheckpointCodec.decode(text)
        #expect(back.ledger.faults == s.ledger.faults)
        #expect(back.ledger.devices["0000:00:01.0"]?.total == 2)
        #expect(back.ledger.devices["0000:00:01.0"]?.lastFault?.address == 0xdead0000)
        #expect(back.ledger.suppressed == s.ledger.suppressed)
        #expect(back.ledger.suppressedVendor == s.ledger.suppressedVendor)
        #expect(back.ledger.overflows == s.ledger.overflows)
        #expect(back.ledger.interrupts == s.ledger.interrupts)
        #expect(back.ledger.losses == s.ledger.losses)
        #expect(back.ledger.lostRecords == 10)
        #expect(back.resumeSeq == 9)
        #expect(back.countedSeq == 14)
        #expect(back.journaledSeq == 12)
        #expect(back.lifetime == t)
        #expect(back.ledger.dmarEstimator == s.ledger.dmarEstimator)
        #expect(!back.ledger.dmarEstimator.isEmpty)
        // Encoding is deterministic: the same state gives the same bytes.
        #expect(CheckpointCodec.encode(back) == text)
    }

    @Test("a checkpoint from before the estimator: with Intel faults counted, the estimate says it began late")
    func estimatorMissing() throws {
        let s = CheckpointState(
            bootID: "b", resumeSeq: 9, countedSeq: 14, writtenUsec: 1, ledger: Self.sampleLedger(),
            lifetime: LifetimeTotals())
        let old = CheckpointCodec.encode(s).split(separator: "\n").filter { !$0.hasPrefix("dmar_") }
        // Re-seal the body without the estimator's lines, as an older iommud wrote it.
        let body = old.dropLast().joined(separator: "\n") + "\n"
        let text = body + "end\t\(old.count - 1)\t\(hex(CheckpointCodec.fnv1a(body), width: 16))\n"
        let back = try CheckpointCodec.decode(text)
        #expect(back.ledger.dmarEstimator.startedLate)
        let e = back.ledger.dmarEstimator.total()
        #expect(!e.exact && e.upper == nil)
        #expect(e.condition.contains("older iommud"))
        // Nothing Intel counted: nothing missed.
        let empty = CheckpointState(
            bootID: "b", resumeSeq: 1, countedSeq: 1, writtenUsec: 1, ledger: FaultLedger(), lifetime: LifetimeTotals())
        let lines = CheckpointCodec.encode(empty).split(separator: "\n").filter { !$0.hasPrefix("dmar_") }
        let b2 = lines.dropLast().joined(separator: "\n") + "\n"
        let t2 = b2 + "end\t\(lines.count - 1)\t\(hex(CheckpointCodec.fnv1a(b2), width: 16))\n"
        #expect(try !CheckpointCodec.decode(t2).ledger.dmarEstimator.startedLate)
    }

    @Test("a bad estimator field is a corrupt checkpoint, an unknown one is skipped")
    func estimatorFields() throws {
        var e = DMARFaultEstimator()
        #expect(EstimatorCodec.decode(["dmar_estimator", "status=12", "future_field=7"], into: &e) == nil)
        #expect(e.printedStatus == 12)
        #expect(EstimatorCodec.decode(["dmar_estimator", "status=-1"], into: &e) != nil)
        #expect(EstimatorCodec.decode(["dmar_estimator", "shape=sideways"], into: &e) != nil)
        #expect(EstimatorCodec.decode(["dmar_window", "uncertain=2"], into: &e) != nil)
        for k in 0..<(DMARFaultEstimator.unitLimit + 10) {
            #expect(EstimatorCodec.decode(["dmar_unit", "dmar\(k)", "records=1"], into: &e) == nil)
        }
        #expect(e.units.count == DMARFaultEstimator.unitLimit)
    }

    @Test("a truncated or corrupted checkpoint is refused, never half-loaded")
    func corrupt() {
        let text = CheckpointCodec.encode(
            CheckpointState(
                bootID: "b", resumeSeq: 1, countedSeq: 1, writtenUsec: 0, ledger: Self.sampleLedger(),
                lifetime: LifetimeTotals()))
        #expect(throws: CheckpointDecodeError.self) { try CheckpointCodec.decode(String(text.prefix(text.count / 2))) }
        #expect(throws: CheckpointDecodeError.self) {
            try CheckpointCodec.decode(text.replacingFirst("fault\tunknown", with: "fault\tunknowm"))
        }
        #expect(throws: CheckpointDecodeError.self) { try CheckpointCodec.decode("") }
        #expect(throws: CheckpointDecodeError.self) { try CheckpointCodec.decode("hello\nworld\n") }
        #expect(throws: CheckpointDecodeError.self) { try CheckpointCodec.decode("iommud-checkpoint 99\n") }
    }

    @Test("a version-1 checkpoint is migrated with its counters")
    func migrateV1() throws {
        let v1 = Fixtures.read("checkpoint/v1.txt")
        let s = try CheckpointCodec.decode(v1)
        #expect(s.version == 1)
        #expect(s.bootID == "0d6f4f57-7f6c-4f0e-9a55-0d1f5c0e5a11")
        #expect(s.resumeSeq == 4711)
        #expect(s.ledger.totalFaults == 7)
        #expect(
            s.ledger.faults[
                FaultCounterKey(
                    unit: "dmar0", device: "0000:00:01.0", vendor: .intel, kind: .dmaRead, reason: "0x06",
                    recoverable: false)] == 5)
        #expect(s.ledger.lostRecords == 3)
        // Written back in the current format, it reads the same.
        let again = try CheckpointCodec.decode(CheckpointCodec.encode(s))
        #expect(again.version == CheckpointState.currentVersion)
        #expect(again.ledger.faults == s.ledger.faults)
    }
}

extension String {
    func replacingFirst(_ a: String, with b: String) -> String {
        guard let r = self.firstRange(of: a) else { return self }
        return String(self[..<r.lowerBound]) + b + String(self[r.upperBound...])
    }
}
