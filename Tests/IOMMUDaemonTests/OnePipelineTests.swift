import Foundation
import IOMMUCore
import Logging
import Synchronization
import Testing

@testable import IOMMUDaemon

/// `iommud run` and `iommud replay` are two drivers of one `KmsgPipeline`: the same bytes give
/// the same faults, ledger, checkpoint and journal entries, whichever drove it.
@Suite("One pipeline, two drivers")
struct OnePipelineTests {
    /// Every classifier fixture's records, renumbered from seq 0 (the daemon counts records
    /// before the first one as lost; a saved excerpt does not), one file after another — only
    /// the files that leave no group half read at their end: the daemon never sees the end of
    /// its input, replay does.
    static func stream() -> String {
        let dir = packageRoot + "/Tests/IOMMUCoreTests/Fixtures"
        var records: [String] = []
        for folder in ["intel", "amd", "arm-smmu-v3", "arm-smmu", "common", "real"] {
            for name in listDirectory(dir + "/" + folder).sorted() where name.hasSuffix(".txt") {
                let lines = readTestFile(dir + "/" + folder + "/" + name).split(separator: "\n").map(String.init)
                var file: [String] = []
                for l in lines where !l.hasPrefix("#") && !l.hasPrefix("=>") && !l.hasPrefix("@") && !l.isEmpty {
                    if l.hasPrefix(" ") { file[file.count - 1] += "\n" + l } else { file.append(l) }
                }
                guard endsCleanly(file) else { continue }
                records += file
            }
        }
        return records.enumerated().map { i, r in
            let comma = r.firstIndex(of: ",")!
            let rest = r[r.index(after: comma)...]
            let seqEnd = rest.firstIndex(of: ",")!
            return r[..<comma] + ",\(i)" + rest[seqEnd...] + "\n"
        }.joined()
    }

    static func endsCleanly(_ records: [String]) -> Bool {
        let text = records.joined(separator: "\n") + "\n"
        var idle = KmsgPipeline(fromStartOfBoot: false)
        text.withBytes { idle.read(stream: $0, isFinal: false) }
        idle.idle()
        var finished = KmsgPipeline(fromStartOfBoot: false)
        text.withBytes { finished.read(stream: $0, isFinal: true) }
        return idle.commit().outputs == finished.commit().outputs
    }

    /// Journal entries for faults as the daemon makes them: storms, then the sink.
    static func journalEntries(_ batches: [[Fault]]) -> [[JournalField]] {
        let config = {
            var c = Configuration()
            c.journalMaxPerSecond = 10_000
            return c
        }()
        let sent = Mutex<[[JournalField]]>([])
        let sink = JournalSink(
            configuration: { config }, logger: Logger(label: "test"),
            send: { fields in
                sent.withLock { $0.append(fields) }
                return 0
            })
        let storms = StormService(configuration: { config }, onEvents: { _ in })
        for faults in batches {
            sink.handle(storms.observe(faults), losses: [], topology: Topology(), live: true)
        }
        // Wall-clock fields come from the realtime offset of the moment: not the bytes'.
        return sent.withLock { $0 }.map { $0.filter { !$0.name.hasSuffix("_REALTIME_USEC") } }
    }

    /// The daemon's core, as the daemon configures it for a machine with no IOMMU topology.
    static func core() -> DaemonCore {
        var config = Configuration()
        config.interruptsPath = "/nonexistent/interrupts"
        config.sysfsRoot = "/nonexistent/sys"
        return DaemonCore(
            config: config, pipeline: KmsgPipeline(), lifetime: LifetimeTotals(), bootID: "b",
            logger: Logger(label: "test"))
    }

    /// Replay: the bytes as a file, through the CLI's driver, --json to a file.
    static func replay(_ text: String) throws -> (faults: [Fault], ledger: FaultLedger) {
        let dir = NSTemporaryDirectory() + "iommud-one-pipeline-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try text.write(toFile: dir + "/kmsg", atomically: true, encoding: .utf8)
        let out = open(dir + "/out.json", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var o = ReplayDriver.Options()
        o.files = [dir + "/kmsg"]
        o.json = true
        o.format = .kmsg
        let outcome = ReplayDriver.run(o, out: out)
        close(out)
        let faults = readTestFile(dir + "/out.json").split(separator: "\n").compactMap { Fault(json: String($0)) }
        return (faults, outcome.ledger)
    }

    /// The checkpoint a ledger gives — the whole ledger, line by line. Only the wall-clock time of
    /// each device's last fault is left out: the daemon knows when its faults happened (kmsg time
    /// + the boot's realtime offset); a saved log's are another day's.
    static func checkpoint(_ l: FaultLedger) -> [String] {
        CheckpointCodec.encode(
            CheckpointState(
                bootID: "b", resumeSeq: l.lastSeq, countedSeq: l.lastSeq, writtenUsec: 0, ledger: l,
                lifetime: LifetimeTotals())
        ).split(separator: "\n").dropLast().map { line in
            var f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            if f[0] == "device_last" { f[2] = "-" }
            return f.joined(separator: "\t")
        }
    }

    /// What the daemon counted (its faults batch by batch, its core) is what replay counted from
    /// the same bytes: faults, checkpoint and journal entries.
    static func expectSame(daemon core: DaemonCore, faults daemonFaults: [[Fault]], text: String) throws {
        let (replayFaults, replayLedger) = try replay(text)
        let daemon = core.snapshot()
        #expect(daemon.ledger.totalFaults > 100)
        #expect(daemonFaults.flatMap { $0 } == replayFaults)
        let a = checkpoint(daemon.ledger)
        let b = checkpoint(replayLedger)
        #expect(a.count > 100)
        #expect(
            a == b,
            "daemon only: \(Set(a).subtracting(b).sorted().prefix(4)), replay only: \(Set(b).subtracting(a).sorted().prefix(4))"
        )
        #expect(daemon.position.resumeSeq == replayLedger.lastSeq)
        let ea = journalEntries(daemonFaults)
        let eb = journalEntries([replayFaults])
        #expect(ea.count > 50)
        let firstDiff = ea.indices.first { $0 < eb.count && ea[$0] != eb[$0] }
        #expect(
            ea == eb,
            "\(ea.count) vs \(eb.count) entries; first difference: \(firstDiff.map { "\(ea[$0]) vs \(eb[$0])" } ?? "-")"
        )
    }

    @Test("the same bytes through the daemon's core and through replay")
    func sameBytes() throws {
        let text = Self.stream()
        #expect(text.utf8.count > 10_000)

        // The daemon's core, fed as the reader feeds it from /dev/kmsg (a record per read), 64
        // records to a batch as when reads come faster than batches, idle once it drained.
        let core = Self.core()
        var daemonFaults: [[Fault]] = []
        let records = text.split(separator: "\n").reduce(into: [String]()) { out, line in
            if line.hasPrefix(" ") { out[out.count - 1] += "\n" + line } else { out.append(String(line)) }
        }
        for start in stride(from: 0, to: records.count, by: 64) {
            let batch = records[start..<min(start + 64, records.count)]
            let commit = core.ingest { p in
                for r in batch { (r + "\n").withBytes { p.read(record: $0) } }
                if batch.endIndex == records.count { p.idle() }
            }
            daemonFaults.append(commit.faults)
        }
        try Self.expectSame(daemon: core, faults: daemonFaults, text: text)
    }

    @Test(
        "the same bytes through the daemon's reader thread and through replay",
        .timeLimit(.minutes(1)))
    func sameBytesThroughTheReader() async throws {
        let text = Self.stream()
        let records = text.split(separator: "\n").filter { !$0.hasPrefix(" ") }.count
        // Two writes to the file the reader tails, as a ring buffer filled in two bursts: the
        // first ends where no group waits for more records (the reader goes idle there, as the daemon does
        // when the kernel goes quiet) plus the start of the next record, which the second write
        // completes — a record cut between two reads.
        let bytes = Array(text.utf8)
        var cut = 0
        var pipeline = KmsgPipeline(fromStartOfBoot: false)
        var recordsBefore = 0
        for (i, b) in bytes.enumerated() where b == 0x0A && (i + 1 == bytes.count || bytes[i + 1] != 0x20) {
            bytes[cut...i].withUnsafeBufferPointer { pipeline.read(record: $0) }
            cut = i + 1
            recordsBefore += 1
            if recordsBefore > records / 2 && pipeline.classifier.pendingSince == nil { break }
        }
        #expect(cut < bytes.count)
        let firstWrite = cut + 7

        let path = NSTemporaryDirectory() + "iommud-one-pipeline-reader-\(getpid())"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        #expect(fd >= 0)
        defer {
            close(fd)
            unlink(path)
        }
        bytes[..<firstWrite].withUnsafeBytes { _ = write(fd, $0.baseAddress, $0.count) }

        let core = Self.core()
        let reader = KmsgReader(path: path, core: core, logger: Logger(label: "test"))
        try reader.open()
        let batches = reader.start()
        defer { reader.stop() }
        var daemonFaults: [[Fault]] = []
        var read: UInt64 = 0
        for await batch in batches {
            daemonFaults.append(batch.commit.faults)
            read += batch.commit.records
            reader.batchDone()
            if batch.endOfBacklog {
                bytes[firstWrite...].withUnsafeBytes { _ = write(fd, $0.baseAddress, $0.count) }
            }
            if read == UInt64(records) { break }
        }
        #expect(read == UInt64(records))
        #expect(daemonFaults.count >= 2)
        try Self.expectSame(daemon: core, faults: daemonFaults, text: text)
    }
}
