import IOMMUCore
import Logging
import Testing

@testable import IOMMUDaemon

/// `ingest` classifies under the lock, lets it go for I/O (hotplug rescan, /proc/interrupts),
/// then counts. A checkpoint can be taken in between; it must pair the ledger with the groups
/// as they stood when that ledger was counted, or a restart skips records nobody counted (seen
/// as ExactlyOnceTests' SIGKILL storm losing three records once in a while).
@Suite("Checkpoint consistency")
struct CheckpointConsistencyTests {
    static func batch(_ lines: [String], records: UInt64? = nil) -> KmsgBatch {
        var b = KmsgBatch()
        for l in lines {
            let r = KmsgRecordParser.parse(l)!
            b.candidates.append(r)
            b.lastSeq = r.seq
        }
        b.records = records ?? UInt64(lines.count)
        return b
    }

    static func core(resumeAfter: UInt64? = nil, countedThrough: UInt64? = nil) -> DaemonCore {
        var config = Configuration()
        config.interruptsPath = "/nonexistent/interrupts"
        return DaemonCore(
            config: config, ledger: FaultLedger(), lifetime: LifetimeTotals(), topology: Topology(), bootID: "b",
            resumeAfter: resumeAfter, countedThrough: countedThrough, journaledSeq: nil, logger: Logger(label: "test"))
    }

    static let intel =
        "DMAR: [DMA Read NO_PASID] Request device [00:05.0] fault addr 0x1000 [fault reason 0x06] PTE Read access is not set"

    @Test("a checkpoint between classify and count resumes where the ledger stands")
    func midBatch() {
        let core = Self.core()
        var noise = KmsgBatch()
        noise.records = 1
        noise.lastSeq = 9
        core.ingest(noise)

        // Two faults, then the header of an AMD split event whose body is still to come.
        let b = Self.batch([
            "3,10,100,-;\(Self.intel)", "3,11,110,-;\(Self.intel)", "3,12,120,-;AMD-Vi: Event logged [",
        ])
        let (outputs, _) = core.classify(b)
        let mid = core.checkpointState()
        #expect(mid.countedSeq == 9)
        #expect(mid.resumeSeq == 9)  // not 11: records 10 and 11 are not counted yet
        _ = core.count(b, outputs: outputs, sample: nil, realtimeOffsetUsec: nil)
        let after = core.checkpointState()
        #expect(after.countedSeq == 12)
        #expect(after.resumeSeq == 11)  // the header is read again, not counted again

        // The body completes the group in `classify`: until it is counted, the header still
        // has to be read again on restart.
        let body = Self.batch([
            "4,13,130,-;IO_PAGE_FAULT device=10:01.1 domain=0x0012 address=0x00000000ff6101b0 flags=0x0070]"
        ])
        let (outputs2, _) = core.classify(body)
        let mid2 = core.checkpointState()
        #expect(mid2.countedSeq == 12)
        #expect(mid2.resumeSeq == 11)
        _ = core.count(body, outputs: outputs2, sample: nil, realtimeOffsetUsec: nil)
        let done = core.checkpointState()
        #expect(done.countedSeq == 13)
        #expect(done.resumeSeq == 13)
        #expect(done.ledger.totalFaults == 3)
    }

    @Test("after a restart, the loaded checkpoint's pending group stands until it is rebuilt")
    func atStart() {
        let core = Self.core(resumeAfter: 11, countedThrough: 12)
        let cp = core.checkpointState()
        #expect(cp.resumeSeq == 11)
        #expect(cp.countedSeq == 12)
        #expect(Self.core(resumeAfter: 12, countedThrough: 12).checkpointState().resumeSeq == 12)
        #expect(Self.core(resumeAfter: nil, countedThrough: 12).checkpointState().resumeSeq == nil)
    }
}
