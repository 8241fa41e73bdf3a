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

    @Test("the same bytes through the daemon and through replay")
    func sameBytes() throws {
        let text = Self.stream()
        #expect(text.utf8.count > 10_000)

        // The daemon: its core, fed as the reader feeds it (a record per read of /dev/kmsg), 64
        // records to a batch as when reads come faster than batches, idle once it drained.
        var config = Configuration()
        config.interruptsPath = "/nonexistent/interrupts"
        config.sysfsRoot = "/nonexistent/sys"
        let core = DaemonCore(
            config: config, pipeline: KmsgPipeline(), lifetime: LifetimeTotals(), bootID: "b",
            logger: Logger(label: "test"))
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

        // Replay: the same bytes as a file, through the CLI's driver, --json to a file.
        let dir = NSTemporaryDirectory() + "iommud-one-pipeline-\(getpid())"
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
        let replayFaults = readTestFile(dir + "/out.json").split(separator: "\n").compactMap { Fault(json: String($0)) }

        let daemon = core.snapshot()
        #expect(daemon.ledger.totalFaults > 100)
        #expect(daemonFaults.flatMap { $0 } == replayFaults)
        // The checkpoint each would write — the whole ledger, line by line. Only the wall-clock
        // time of each device's last fault differs: the daemon knows when its faults happened
        // (kmsg time + the boot's realtime offset); a saved log's are another day's.
        func checkpoint(_ l: FaultLedger) -> [String] {
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
        let a = checkpoint(daemon.ledger)
        let b = checkpoint(outcome.ledger)
        #expect(a.count > 100)
        #expect(
            a == b,
            "daemon only: \(Set(a).subtracting(b).sorted().prefix(4)), replay only: \(Set(b).subtracting(a).sorted().prefix(4))"
        )
        #expect(daemon.position.resumeSeq == outcome.ledger.lastSeq)
        let ea = Self.journalEntries(daemonFaults)
        let eb = Self.journalEntries([replayFaults])
        #expect(ea.count > 50)
        let firstDiff = ea.indices.first { $0 < eb.count && ea[$0] != eb[$0] }
        #expect(
            ea == eb,
            "\(ea.count) vs \(eb.count) entries; first difference: \(firstDiff.map { "\(ea[$0]) vs \(eb[$0])" } ?? "-")"
        )
    }
}
