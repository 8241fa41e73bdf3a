import IOMMUCore
import Testing

@Suite("Replay")
struct ReplayTests {
    static func replay(_ text: String, format: ReplayFormat = .auto) -> (KmsgPipeline, [Fault]) {
        PipelineReplay.run(text, format: format)
    }

    @Test(
        "format detection",
        arguments: [
            ("3,1,2,-;DMAR: x", ReplayFormat.kmsg),
            ("[    5.413744] DMAR: DRHD: handling fault status reg 2", .dmesg),
            ("[Thu Nov 26 05:53:01 2026] DMAR: x", .dmesg),
            ("Nov 26 05:53:01 host kernel: DMAR: x", .journal),
            ("2026-11-26T05:53:01+0000 host kernel: DMAR: x", .journal),
            ("{\"MESSAGE\":\"DMAR: x\",\"_TRANSPORT\":\"kernel\"}", .journalJSON),
        ])
    func detect(_ sample: String, _ expected: ReplayFormat) {
        #expect(ReplayFormat.detect(sample) == expected)
    }

    /// Inputs the fuzzers found crashing: each must be read to the end without trapping.
    @Test("fuzzer crashers replay without trapping", arguments: listFiles(Fixtures.root + "/replay/crashers").sorted())
    func crashers(_ name: String) {
        let bytes = Array(readFile(Fixtures.root + "/replay/crashers/" + name).utf8)
        for format in ReplayFormat.allCases { _ = PipelineReplay.run([bytes[...]], format: format) }
        // A bracket that closes after ` kernel: ` is no stamp: the line has no prefix, like dmesg -t.
        #expect(ReplayFormat.detect("[ 7100.00001 host kernel: iommu ivhd0: AMD-Vi: Event logged [X]") == .dmesg)
    }

    @Test("the same fault through every input format")
    func formats() {
        let line =
            "DMAR: [DMA Write NO_PASID] Request device [03:00.0] fault addr 0xfffff000 [fault reason 0x05] PTE Write access is not set"
        let inputs = [
            "3,77,5413744,-;" + line + "\n",
            "[    5.413744] " + line + "\n",
            "[Thu Nov 26 05:53:01 2026] " + line + "\n",
            "Nov 26 05:53:01 host kernel: " + line + "\n",
            "-- Boot 1234 --\n2026-11-26T05:53:01+0000 host kernel: " + line + "\n",
            "{\"__MONOTONIC_TIMESTAMP\":\"5413744\",\"PRIORITY\":\"3\",\"SYSLOG_FACILITY\":\"0\",\"_TRANSPORT\":\"kernel\",\"MESSAGE\":\""
                + line + "\"}\n",
        ]
        for input in inputs {
            let (_, faults) = Self.replay(input)
            #expect(faults.count == 1, "\(input)")
            #expect(faults.first?.device?.description == "0000:03:00.0")
            #expect(faults.first?.kind == .dmaWrite)
            #expect(faults.first?.reasonString == "0x05")
            #expect(faults.first?.address == 0xfffff000)
        }
    }

    @Test("chunk boundaries anywhere give the same result")
    func chunks() {
        let text =
            Fixtures.read("real/intel-bb-ratelimit.txt").isEmpty
            ? "3,1,1,-;DMAR: [DMA Read NO_PASID] Request device [00:01.0] fault addr 0x1000 [fault reason 0x06] PTE Read access is not set\n 4,2,2,-;dmar_fault: 2 callbacks suppressed\n"
            : Fixtures.read("real/intel-bb-ratelimit.txt")
        let kmsg =
            text.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.hasPrefix("=>") && !$0.isEmpty }
            .joined(separator: "\n") + "\n"
        let (whole, _) = Self.replay(kmsg, format: .kmsg)
        let bytes = Array(kmsg.utf8)
        for split in stride(from: 1, to: bytes.count, by: max(1, bytes.count / 37)) {
            let (e, _) = PipelineReplay.run([bytes[..<split], bytes[split...]], format: .kmsg)
            #expect(e.ledger.faults == whole.ledger.faults)
            #expect(e.ledger.suppressed == whole.ledger.suppressed)
            #expect(e.ledger.records == whole.ledger.records)
        }
    }

    @Test("reads of any size give what one read gives", arguments: [7, 64, 1000])
    func pieces(_ readSize: Int) {
        let kmsg = (0..<40).map { i in
            i % 3 == 0
                ? "3,\(i),\(i),-;DMAR: [DMA Read NO_PASID] Request device [00:0\(i % 8).0] fault addr 0x\(i)000 [fault reason 0x06] PTE Read access is not set\n"
                : "6,\(i),\(i),-;usb 1-1: noise \(i)\n SUBSYSTEM=usb\n"
        }.joined()
        for format in [ReplayFormat.kmsg, .dmesg] {
            let text =
                format == .kmsg
                ? kmsg
                : kmsg.split(separator: "\n").filter { !$0.hasPrefix(" ") }.map {
                    "[    1.000000] " + $0.split(separator: ";", maxSplits: 1)[1] + "\n"
                }
                .joined()
            let (whole, wholeFaults) = Self.replay(text, format: format)
            #expect(wholeFaults.count == 14)
            let input = Array(text.utf8)
            let chunks = stride(from: 0, to: input.count, by: readSize).map {
                input[$0..<min($0 + readSize, input.count)]
            }
            let (e, faults) = PipelineReplay.run(chunks + [[]], format: format)
            #expect(faults == wholeFaults, "\(format), reads of \(readSize)")
            #expect(e.ledger == whole.ledger)
        }
    }

    @Test("replay --json lines carry the contract's keys")
    func jsonKeys() throws {
        let (_, faults) = Self.replay(
            "3,5,6,-;DMAR: [DMA Read PASID 0x1] Request device [6a:01.0] fault addr 0x7f8a2c000000 [fault reason 0x71] SM: Present bit in first-level paging entry is clear\n"
        )
        let f = try #require(faults.first)
        guard case .object(let o)? = MiniJSON.parse(f.jsonLine()) else {
            Issue.record("not JSON")
            return
        }
        for k in [
            "vendor", "unit", "device", "kind", "reason", "reason_text", "address", "pasid", "access", "recoverable",
            "owner", "seq", "text",
        ] {
            #expect(o[k] != nil, "missing \(k)")
        }
        #expect(o["pasid"] == .string("0x1"))
        #expect(o["reason"] == .string("0x71"))
        #expect(o["unit"] == .null)
        #expect(Fault(json: f.jsonLine()) == f)
    }
}

@Suite("Replay bounds")
struct ReplayBoundTests {
    @Test(
        "a record continued over 200 000 lines is joined up to the record limit, counted oversized, and the next record read"
    )
    func longContinuation() {
        var text = "[    1.000000] DMAR: a record that goes on\n"
        text += String(repeating: "               and on and on and on\n", count: 200_000)
        text +=
            "[    2.000000] DMAR: [DMA Read NO_PASID] Request device [00:05.0] fault addr 0x1000 [fault reason 0x06] PTE Read access is not set\n"
        let (p, faults) = PipelineReplay.run(text, format: .dmesg)
        #expect(text.utf8.count > 4 * KmsgPipeline.maxRecordBytes)
        #expect(p.ledger.oversizedRecords == 1)
        #expect(faults.count == 1 && p.ledger.totalFaults == 1)
    }
}
