import IOMMUCore
import Testing

@Suite("/dev/kmsg records")
struct KmsgRecordTests {
    @Test("header fields, unknown extra fields ignored")
    func header() throws {
        let r = try #require(
            KmsgRecordParser.parse("6,3301,5123000,-,caller=T342;arm-smmu-v3 arm-smmu-v3.0.auto: event 0x10 received:"))
        #expect(r.priority == 6)
        #expect(r.level == 6)
        #expect(r.facility == 0)
        #expect(r.seq == 3301)
        #expect(r.timestampUsec == 5_123_000)
        #expect(r.flag == UInt8(ascii: "-"))
        #expect(r.text == "arm-smmu-v3 arm-smmu-v3.0.auto: event 0x10 received:")
    }

    @Test("facility 1 (userspace) is told apart")
    func facility() throws {
        let r = try #require(KmsgRecordParser.parse("12,4000,9000000000,-;myapp: injected"))
        #expect(r.facility == 1)
        #expect(r.level == 4)
        #expect(!r.isKernel)
    }

    @Test("dictionary lines give SUBSYSTEM and DEVICE")
    func dictionary() throws {
        let raw =
            "3,2210,120034567,-;nvme 0000:01:00.0: AMD-Vi: Event logged [IO_PAGE_FAULT domain=0x0000 address=0xfc189000 flags=0x0000]\n SUBSYSTEM=pci\n DEVICE=+pci:0000:01:00.0\n"
        let r = try #require(KmsgRecordParser.parse(raw))
        #expect(r.subsystem == "pci")
        #expect(r.device == "+pci:0000:01:00.0")
        #expect(r.dictionaryDevice(bus: "pci") == "0000:01:00.0")
        #expect(r.dictionaryDevice(bus: "iommu") == nil)
    }

    @Test("\\xNN escapes are undone: tab, embedded newline, backslash")
    func escapes() throws {
        let r = try #require(
            KmsgRecordParser.parse(
                "3,501,2345678,c;DMAR: DMAR:[DMA Write] Request device [00:02.0] fault addr ffffe000 \\x0aDMAR:[fault reason 05] x\\x09y\\x5cz"
            ))
        #expect(
            r.text
                == "DMAR: DMAR:[DMA Write] Request device [00:02.0] fault addr ffffe000 \nDMAR:[fault reason 05] x\ty\\z"
        )
        #expect(r.flag == UInt8(ascii: "c"))
    }

    @Test("a dictionary value the previous record had is the same value, whether shared or made")
    func dictionaryReuse() throws {
        func record(_ text: String, previous: KmsgRecord?) throws -> KmsgRecord {
            let r = text.withBytes { b in
                KmsgRecordParser.layout(b).map { KmsgRecordParser.record(b, layout: $0, previous: previous) }
            }
            return try #require(r)
        }
        let a = try record("6,1,1,-;x\n SUBSYSTEM=platform\n DEVICE=+platform:arm-smmu-v3.0.auto\n", previous: nil)
        let same = try record("6,2,2,-;y\n SUBSYSTEM=platform\n DEVICE=+platform:arm-smmu-v3.0.auto\n", previous: a)
        let other = try record("6,3,3,-;z\n SUBSYSTEM=pci\n DEVICE=+platform:arm-smmu-v3.1.auto\n", previous: same)
        let escaped = try record("6,4,4,-;w\n DEVICE=+platform:arm-smmu-v3.1\\x2eauto\n", previous: other)
        #expect(same.device == "+platform:arm-smmu-v3.0.auto" && same.subsystem == "platform")
        #expect(other.device == "+platform:arm-smmu-v3.1.auto" && other.subsystem == "pci")
        #expect(escaped.device == "+platform:arm-smmu-v3.1.auto" && escaped.subsystem == nil)
    }

    @Test("unescaping repairs invalid UTF-8 and keeps a backslash that starts no escape")
    func unescapeEdges() {
        func unescape(_ s: String) -> String { s.withBytes { KmsgRecordParser.unescape($0) } }
        #expect(unescape("a\\xffb") == "a\u{FFFD}b")
        #expect(unescape("caf\\xc3\\xa9") == "café")
        #expect(unescape("x\\y \\x4") == "x\\y \\x4")
        #expect(unescape("\\x09") == "\t")
    }

    @Test(
        "malformed headers are rejected, never trap",
        arguments: [
            "", "garbage", "6,abc,1,-;x", "6,1,2;x", "6,1,2,-", "99999999999999999999,1,2,-;x", ",,,;", "6,1,2,-\n;x",
        ])
    func malformed(_ text: String) {
        #expect(KmsgRecordParser.parse(text) == nil)
    }

    @Test("framing a byte stream: dictionary lines belong to their record; incomplete tails wait")
    func framing() {
        let stream = "6,1,10,-;first\n SUBSYSTEM=pci\n DEVICE=+pci:0000:00:01.0\n6,2,20,-;second\n6,3,30,-;third"
        var records: [String] = []
        let used = stream.withBytes { b in
            KmsgFraming.forEachRecord(in: b, isFinal: false) { r, _ in
                records.append(String(decoding: r, as: UTF8.self))
            }
        }
        // "second" is complete because the line after it starts a record; "third" may still get
        // dictionary lines.
        #expect(records == ["6,1,10,-;first\n SUBSYSTEM=pci\n DEVICE=+pci:0000:00:01.0\n", "6,2,20,-;second\n"])
        let rest = String(stream.utf8.dropFirst(used))!
        var tail: [String] = []
        _ = rest.withBytes { b in
            KmsgFraming.forEachRecord(in: b, isFinal: true) { r, _ in tail.append(String(decoding: r, as: UTF8.self)) }
        }
        #expect(tail == ["6,3,30,-;third"])
    }

    @Test("the first line's end the framing hands over is the one the header parser finds")
    func firstLineEnd() {
        let stream =
            "6,1,10,-;first\n SUBSYSTEM=pci\n DEVICE=+pci:0000:00:01.0\n6,2,20,c,caller=T1;second\n6,3,30,-;\n6,4,40,-;last"
        var seen: [(String, Int, Int?)] = []
        _ = stream.withBytes { b in
            KmsgFraming.forEachRecord(in: b, isFinal: true) { rec, lineEnd in
                let found = KmsgRecordParser.layout(rec)
                let given = KmsgRecordParser.layout(rec, firstLineEnd: lineEnd)
                #expect(found?.text == given?.text && found?.dictionary == given?.dictionary)
                seen.append((String(decoding: rec, as: UTF8.self), lineEnd, given.map { $0.text.upperBound }))
            }
        }
        #expect(seen.map(\.1) == [14, 25, 9, 13])
        #expect(seen.map(\.2) == [14, 25, 9, 13])
    }
}

@Suite("Sequence accounting")
struct SequenceTrackerTests {
    @Test("first start of a boot: everything before the first seq read was lost")
    func newBoot() {
        var t = KmsgSequenceTracker(resumeAfter: nil)
        #expect(t.observe(1000) == .accept(lost: 1000, lostAfter: nil))
        #expect(t.observe(1001) == .accept(lost: 0, lostAfter: 1000))
        #expect(t.observe(1005) == .accept(lost: 3, lostAfter: 1001))
    }

    @Test("a fresh boot read from seq 0 loses nothing")
    func fromZero() {
        var t = KmsgSequenceTracker(resumeAfter: nil)
        #expect(t.observe(0) == .accept(lost: 0, lostAfter: nil))
    }

    @Test("restart in the same boot: skip what was counted, count the gap exactly")
    func restart() {
        var t = KmsgSequenceTracker(resumeAfter: 50)
        #expect(t.observe(10) == .skip)
        #expect(t.observe(50) == .skip)
        #expect(t.observe(51) == .accept(lost: 0, lostAfter: 50))
        var wrapped = KmsgSequenceTracker(resumeAfter: 50)
        #expect(wrapped.observe(60) == .accept(lost: 9, lostAfter: 50))
    }

    @Test("an unfinished group at the checkpoint is replayed, not recounted")
    func replayGroup() {
        var t = KmsgSequenceTracker(resumeAfter: 99, countedThrough: 103)
        #expect(t.observe(99) == .skip)
        #expect(t.observe(100) == .replay)
        #expect(t.observe(103) == .replay)
        #expect(t.observe(104) == .accept(lost: 0, lostAfter: 103))
        // If the ring wrapped past the group's head meanwhile, no counted record is "lost" again.
        var w = KmsgSequenceTracker(resumeAfter: 99, countedThrough: 103)
        #expect(w.observe(102) == .replay)
        #expect(w.observe(110) == .accept(lost: 6, lostAfter: 103))
    }

    @Test("duplicates and reordering never count twice")
    func duplicates() {
        var t = KmsgSequenceTracker(resumeAfter: nil)
        _ = t.observe(5)
        #expect(t.observe(5) == .skip)
        #expect(t.observe(3) == .skip)
    }
}
