import Foundation
import IOMMUCore
import Logging
import Testing

@testable import IOMMUDaemon

/// What the daemon's services do with a fault an `[[expected]]` rule matched: a journal entry at
/// PRIORITY 6 that never takes a paging fault's token, no action, no storm.
@Suite("Expected faults in the daemon's services")
struct ExpectedRuntimeTests {
    static func fault(seq: UInt64, rule: String?, bus: UInt8 = 0x81) -> Fault {
        var f = Fault(
            vendor: .intel, kind: .dmaRead, recoverable: false, device: PCIAddress(bus: bus, device: 0, function: 0),
            unit: "dmar0", reason: 6, reasonText: "PTE Read access is not set", address: 0x1000 * seq, seq: seq,
            timestampUsec: 1_000_000 + seq, text: "DMAR: [DMA Read NO_PASID] …")
        f.expectedRule = rule
        return f
    }

    @Test("journal: expected faults at PRIORITY 6, never with the last token of a second; a paging fault gets it")
    func journal() throws {
        let (sink, sent) = JournalSinkTests.sink(perSecond: 2)
        let expected = (1...3).map { FaultStreamItem.expected(Self.fault(seq: $0, rule: "nic-probe")) }
        sink.handle(expected, losses: [], topology: Topology(), live: true)
        #expect(sent.withLock { $0.count } == 1, "one token of two: the last is left for a fault that pages")
        #expect(sink.dropped.budget == 2)
        sink.handle([.fault(Self.fault(seq: 4, rule: nil), .single)], losses: [], topology: Topology(), live: true)
        let entries = sent.withLock { $0 }
        #expect(entries.count == 2)
        func field(_ e: [JournalField], _ name: String) -> String? { e.first { $0.name == name }?.value }
        #expect(field(entries[0], "PRIORITY") == "6" && field(entries[0], "IOMMUD_EXPECTED_RULE") == "nic-probe")
        #expect(field(entries[1], "PRIORITY") == "3" && field(entries[1], "IOMMUD_EXPECTED_RULE") == nil)
        #expect(sink.journaledSeq == 4, "dropped for budget, counted: the mark passes them")
    }

    @Test("actions: an expected fault runs no on_fault command; the next fault does")
    func actions() throws {
        let dir = NSTemporaryDirectory() + "iommud-expected-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var c = Configuration()
        c.onFault = ["/bin/sh", "-c", "touch \(dir)/ran-$KMSG_SEQ"]
        let config = c
        let actions = ActionService(
            configuration: { config }, stateDirectory: dir, bootID: "boot", logger: Logger(label: "test"))
        actions.handle([.expected(Self.fault(seq: 1, rule: "nic-probe"))], topology: Topology())
        actions.handle([.fault(Self.fault(seq: 2, rule: nil), .single)], topology: Topology())
        var ran = false
        for _ in 0..<250 where !ran {
            ran = FileManager.default.fileExists(atPath: dir + "/ran-2")
            if !ran { usleep(20_000) }
        }
        #expect(ran, "the control: a fault that pages runs its action")
        #expect(!FileManager.default.fileExists(atPath: dir + "/ran-1"))
        #expect(ActionService.loadSeq(path: dir + "/actions", bootID: "boot") == 2)
        #expect(actions.failures == 0)
    }

    @Test("storms: expected faults neither start nor feed one, however many")
    func storms() {
        var c = Configuration()
        c.stormThreshold = 2
        let config = c
        let storms = StormService(configuration: { config }, onEvents: { _ in })
        let items = storms.observe((1...10).map { Self.fault(seq: $0, rule: "nic-probe") })
        #expect(items.count == 10)
        #expect(items.allSatisfy { if case .expected = $0 { return true } else { return false } })
        #expect(storms.storming.isEmpty)
        let real = storms.observe((11...14).map { Self.fault(seq: $0, rule: nil) })
        #expect(real.contains { if case .storm(.began) = $0 { return true } else { return false } })
        // Begun by the third fault that pages (more than 2), the fourth added: the ten expected
        // ones before them count for nothing here.
        #expect(storms.storming.first?.total.faults == 2)
        #expect(storms.storming.first?.beganSeq == 13)
    }
}
