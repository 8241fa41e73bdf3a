import IOMMUCore
import Testing

@Suite("Journal entries")
struct JournalEntriesTests {
    static let full = Fault(
        vendor: .intel, kind: .dmaWrite, recoverable: false, device: PCIAddress(bus: 3, device: 0, function: 0),
        unit: "dmar3", sourceID: 0x300, reason: 5, reasonText: "PTE Write access is not set", owner: .driver,
        address: 0xffff_f000, pasid: 1, access: .write, driver: "nvme", detail: "detail", seq: 1234,
        timestampUsec: 5_000_000,
        text:
            "DMAR: [DMA Write NO_PASID] Request device [03:00.0] fault addr 0xfffff000 [fault reason 0x05] PTE Write access is not set"
    )

    static let nvme = JournalEntries.DeviceInfo(driver: "nvme", group: 14, name: "Samsung NVMe")

    static func dict(_ fields: [JournalField]) -> [String: String] {
        Dictionary(fields.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
    }

    @Test("the sentence a person reads")
    func sentence() {
        var f = Self.full
        f.pasid = nil
        #expect(
            JournalEntries.sentence(f, device: Self.nvme)
                == "DMA write by 0000:03:00.0 (nvme, group 14, dmar3) to 0xfffff000 blocked: PTE Write access is not set — likely driver bug"
        )
        var unknown = f
        unknown.device = nil
        unknown.owner = nil
        unknown.reasonText = nil
        #expect(
            JournalEntries.sentence(unknown, device: .init())
                == "DMA write by an unknown device (source id 0x300) on dmar3 to 0xfffff000 blocked: reason 0x05")
        let prq = Fault(
            vendor: .intel, kind: .pageRequest, recoverable: true, device: PCIAddress(bus: 0, device: 2, function: 0),
            address: 0x7000, pasid: 2, text: "x")
        #expect(
            JournalEntries.sentence(prq, device: .init())
                == "Page request by 0000:00:02.0 with PASID 0x2 to 0x7000 faulted (recoverable: the device waits for the OS to resolve it)"
        )
    }

    @Test("a fault entry has every contract field, its wall time from the kmsg timestamp, and valid names")
    func faultFields() {
        let fields = JournalEntries.fault(Self.full, device: Self.nvme, realtimeOffsetUsec: 1_700_000_000_000_000)
        let d = Self.dict(fields)
        #expect(fields.count == d.count, "no field twice")
        #expect(d["MESSAGE_ID"] == MessageID.fault)
        #expect(d["PRIORITY"] == "3")
        #expect(d["SYSLOG_IDENTIFIER"] == "iommud")
        #expect(d["IOMMU_VENDOR"] == "intel")
        #expect(d["IOMMU_UNIT"] == "dmar3")
        #expect(d["IOMMU_DEVICE"] == "0000:03:00.0")
        #expect(d["IOMMU_KIND"] == "dma-write")
        #expect(d["IOMMU_REASON"] == "0x05")
        #expect(d["IOMMU_REASON_TEXT"] == "PTE Write access is not set")
        #expect(d["IOMMU_OWNER"] == "driver")
        #expect(d["IOMMU_ADDRESS"] == "0xfffff000")
        #expect(d["IOMMU_PASID"] == "0x1")
        #expect(d["IOMMU_ACCESS"] == "write")
        #expect(d["IOMMU_RECOVERABLE"] == "false")
        #expect(d["IOMMU_FAULT_REALTIME_USEC"] == "1700000005000000")
        #expect(d["KMSG_SEQ"] == "1234")
        #expect(d["KMSG_TS_USEC"] == "5000000")
        #expect(d["KMSG_TEXT"] == Self.full.text)
        #expect(d["IOMMU_GROUP"] == "14")
        for f in fields { #expect(JournalField.isValidName(f.name), "invalid field name \(f.name)") }
    }

    @Test("null fields are left out, IOMMU_UNIT is always there; recoverable faults are PRIORITY 5")
    func nulls() {
        let f = Fault(vendor: .amd, kind: "io-page-fault", recoverable: true, text: "AMD-Vi: something")
        let d = Self.dict(JournalEntries.fault(f, device: .init(), realtimeOffsetUsec: nil))
        #expect(d["IOMMU_UNIT"] == "unknown")
        #expect(d["PRIORITY"] == "5")
        for absent in [
            "IOMMU_DEVICE", "IOMMU_REASON", "IOMMU_REASON_TEXT", "IOMMU_OWNER", "IOMMU_ADDRESS", "IOMMU_PASID",
            "IOMMU_ACCESS", "IOMMU_FAULT_REALTIME_USEC", "KMSG_SEQ", "KMSG_TS_USEC", "IOMMU_GROUP", "IOMMU_DRIVER",
        ] {
            #expect(d[absent] == nil, "\(absent) should be left out")
        }
    }

    @Test("storm, loss and daemon entries: ids, priorities, valid names")
    func others() {
        let policy = StormTracker.Policy(threshold: 3, windowUsec: 1_000_000, summaryIntervalUsec: 2_000_000)
        var t = StormTracker(policy: policy)
        var events: [StormTracker.Event] = []
        for i in 0..<40 {
            var f = Self.full
            f.seq = UInt64(i)
            f.timestampUsec = UInt64(i) * 100_000
            f.address = 0x1000 * UInt64(i + 1)
            _ = t.observe(f, events: &events)
        }
        t.advance(toUsec: 100_000_000, events: &events)
        var ids: [String] = []
        for e in events {
            let fields = JournalEntries.storm(e, policy: policy, device: Self.nvme, realtimeOffsetUsec: 1_000)
            for f in fields { #expect(JournalField.isValidName(f.name), "invalid field name \(f.name)") }
            let d = Self.dict(fields)
            ids.append(d["MESSAGE_ID"]!)
            #expect(d["IOMMU_DEVICE"] == "0000:03:00.0")
            #expect(d["KMSG_SEQ"] != nil)
            if case .ended = e {
                #expect(d["PRIORITY"] == "5")
                #expect(d["IOMMU_STORM_TOTAL"] == "37")
                #expect(d["MESSAGE"]!.contains("ended"))
            } else {
                #expect(d["PRIORITY"] == "2")
            }
            if case .summary = e {
                let n = d["IOMMU_STORM_FAULTS"] ?? "?"
                #expect(d["IOMMU_STORM_KINDS"] == "dma-write:\(n)")
                #expect(d["IOMMU_STORM_REASONS"] == "0x05:\(n)")
                #expect(d["IOMMU_ADDRESS_MIN"] != nil && d["IOMMU_ADDRESS_MAX"] != nil)
            }
        }
        #expect(ids.first == MessageID.stormBegins)
        #expect(ids.last == MessageID.stormEnds)
        #expect(ids.contains(MessageID.stormSummary))
        let lost = JournalEntries.recordsLost(LossRange(afterSeq: 10, beforeSeq: 20, count: 9))
        let started = JournalEntries.daemonStarted(version: "1", source: "/dev/kmsg", units: 2, resumedAfterSeq: 3)
        let stopped = JournalEntries.daemonStopped(version: "1", faults: 3, lost: 0)
        for (entry, id) in [
            (lost, MessageID.recordsLost), (started, MessageID.daemonStarted), (stopped, MessageID.daemonStopped),
        ] {
            #expect(Self.dict(entry)["MESSAGE_ID"] == id)
            for f in entry { #expect(JournalField.isValidName(f.name), "invalid field name \(f.name)") }
        }
        #expect(Self.dict(lost)["KMSG_SEQ"] == "20")
    }

    @Test("MESSAGE_IDs are distinct 128-bit ids in hex")
    func ids() {
        #expect(Set(MessageID.all.map(\.id)).count == 7)
        for (_, id) in MessageID.all {
            #expect(id.count == 32 && id.allSatisfy { $0.isHexDigit && !$0.isUppercase })
        }
    }

    @Test("field name rules: what journald keeps")
    func names() {
        for ok in ["MESSAGE", "IOMMU_DEVICE", "KMSG_TS_USEC", "A1"] { #expect(JournalField.isValidName(ok)) }
        for bad in ["", "_PID", "iommu_lower", "BAD-DASH", "1ABC", String(repeating: "A", count: 65)] {
            #expect(!JournalField.isValidName(bad))
        }
    }

    @Test("an action's environment is the entry's fields")
    func environment() {
        let env = JournalEntries.environment(
            JournalEntries.fault(Self.full, device: Self.nvme, realtimeOffsetUsec: 0), event: "fault")
        #expect(env.contains("IOMMUD_EVENT=fault"))
        #expect(env.contains("IOMMU_DEVICE=0000:03:00.0"))
        #expect(env.contains("KMSG_SEQ=1234"))
        #expect(env.contains { $0.hasPrefix("IOMMU_MESSAGE=DMA write by") })
        #expect(!env.contains { $0.hasPrefix("MESSAGE_ID=") || $0.hasPrefix("PRIORITY=") })
    }
}

@Suite("Journal entries read back")
struct JournalReadBackTests {
    @Test("a fault survives fields → fault (what `iommud log` prints)")
    func roundTrip() {
        let f = JournalEntriesTests.full
        let fields = JournalEntries.fault(f, device: .init(), realtimeOffsetUsec: 10)
        let back = JournalEntries.fault(
            fromFields: Dictionary(fields.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a }))
        #expect(back == f)
        var noUnit = f
        noUnit.unit = nil
        let fields2 = JournalEntries.fault(noUnit, device: .init(), realtimeOffsetUsec: 10)
        #expect(
            JournalEntries.fault(
                fromFields: Dictionary(fields2.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a }))?
                .unit == nil)
    }
}
