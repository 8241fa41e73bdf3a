import Foundation
import Glibc
import IOMMUCore
import IOMMUDaemon
import Testing

/// Storms against the real journald: begin, summaries, end; live faults ahead of a backlog.
extension KmsgSuite.JournalSuite {
    @Test(
        "a storm of 3000 faults: begins/summary/ends, ≤ journal_max_per_second, exact counters, bounded actions",
        .timeLimit(.minutes(2)))
    func storm() throws {
        let d = Daemon(
            extraConfig: """
                [storm]
                threshold = 10
                window = "1s"
                summary_interval = "1s"
                journal_max_per_second = 5
                [actions]
                on_fault = ["/bin/sh", "-c", "echo $KMSG_SEQ >> '\(TempDirPath.placeholder)/fault-actions'"]
                on_storm = ["/bin/sh", "-c", "env >> '\(TempDirPath.placeholder)/storm-actions'"]
                max_per_minute = 3
                max_concurrent = 1
                """)
        try d.fillPlaceholder()
        let ring = try d.useRecordFile()
        try d.start()
        try d.waitReady()
        let own = d.ownEntries
        let bus: UInt8 = 0x5a
        let dev = "0000:5a:00.0"
        var written = 0
        for chunk in 0..<6 {
            ring.ts = monotonicMicros()
            for i in 0..<500 {
                ring.append(
                    level: 6, Self.faultLine(bus: bus, write: i % 7 != 0, address: UInt64(0x1000 * (i + 1))))
                ring.ts += 200
                written += 1
            }
            if chunk == 2 {
                // Mid-storm: the gauge and status say so.
                let s = try d.waitFor("the storm gauge") {
                    $0.sum("iommu_device_storm", where: ["device": dev]) == 1
                }
                #expect(s.sum("iommu_device_storm", where: ["device": dev]) == 1)
                let st = try d.status()
                if case .array(let storms)? = st["storms"] {
                    #expect(storms.contains { $0["device"] == .string(dev) }, "status JSON lists the storm")
                } else {
                    Issue.record("status JSON has no storms")
                }
                let (_, text) = try runCommand(Binary.path, ["status", "--socket", d.controlSocket])
                #expect(text.contains("Fault storms") && text.contains(dev), "\(text)")
            }
            usleep(500_000)
        }
        let ended = try JournalQuery.waitFor(
            "the storm's end", ["MESSAGE_ID=\(MessageID.stormEnds)"] + own, timeout: 20, log: d.log
        ) { $0.count >= 1 }
        #expect(ended.count == 1)
        #expect(ended.first?["IOMMU_STORM_TOTAL"] == "2990", "every fault after the 10th is in the storm")
        #expect(ended.first?["IOMMU_DEVICE"] == dev)
        #expect(ended.first?["PRIORITY"] == "5")
        let scrape = try d.waitFor("storm over") { $0.sum("iommu_device_storm", where: ["device": dev]) == 0 }
        #expect(scrape.sum("iommu_faults_total", where: ["device": dev]) == Double(written), "counters stay exact")

        let all = try JournalQuery.entries(own)
        let mine = all.filter { $0["MESSAGE_ID"] != nil }
        let began = mine.filter { $0["MESSAGE_ID"] == MessageID.stormBegins }
        let summaries = mine.filter { $0["MESSAGE_ID"] == MessageID.stormSummary }
        let faults = mine.filter { $0["MESSAGE_ID"] == MessageID.fault }
        #expect(began.count == 1)
        #expect(began.first?["PRIORITY"] == "2")
        #expect(summaries.count >= 1, "a summary per summary_interval")
        for s in summaries {
            #expect(s["PRIORITY"] == "2" && s["IOMMU_STORM_KINDS"] != nil && s["IOMMU_ADDRESS_MIN"] != nil)
        }
        // The 10 faults before the storm: journaled one by one or, over the budget, held back
        // and counted on the next entry — together exactly 10.
        let heldBack = mine.compactMap { Int($0["IOMMUD_JOURNAL_HELD_BACK"] ?? "") }.reduce(0, +)
        #expect(faults.count + heldBack == 10, "\(faults.count) fault entries + \(heldBack) held back")
        // Never more than journal_max_per_second in any second (journald's receive times,
        // with 100 ms for scheduling).
        let times = mine.compactMap { Int64($0["__REALTIME_TIMESTAMP"] ?? "") }.sorted()
        for i in 5..<max(5, times.count) {
            #expect(times[i] - times[i - 5] >= 900_000, "6 entries within \(times[i] - times[i - 5]) µs")
        }
        // Actions: never more than max_per_minute however many faults.
        let actions = (try? String(contentsOfFile: d.dir.path + "/fault-actions", encoding: .utf8)) ?? ""
        let ran = actions.split(separator: "\n").count
        #expect(ran >= 1 && ran <= 3, "\(ran) actions ran")
        #expect(d.log.contains("skipped"))
        // on_storm: once for the storm, with the storm's fields.
        let storm = (try? String(contentsOfFile: d.dir.path + "/storm-actions", encoding: .utf8)) ?? ""
        #expect(storm.components(separatedBy: "IOMMUD_EVENT=storm").count == 2, "one storm action: \(storm)")
        #expect(storm.contains("IOMMU_DEVICE=\(dev)") && storm.contains("IOMMU_STORM_TOTAL="))
        #expect(d.stop() == 0)
    }

    @Test("a live fault is journaled at once even while a backlog of storm entries drains", .timeLimit(.minutes(1)))
    func liveAfterBacklog() throws {
        let d = Daemon()
        let ring = try d.useRecordFile()
        // The ring buffer a daemon finds at start: 12 devices that each stormed (24 storm
        // entries, about 6 s of journal budget at 5 per second).
        ring.ts = monotonicMicros() - 60_000_000
        for dev in 0..<12 {
            for i in 0..<15 {
                ring.append(level: 6, Self.faultLine(bus: 0x3c, device: dev, address: UInt64(0x1000 * (i + 1))))
            }
            ring.ts += 4_000_000
        }
        // And old faults that were never journaled, more than a second's budget.
        for i in 0..<20 { ring.append(level: 6, Self.faultLine(bus: 0x3e, device: i, address: 0x1000)) }
        try d.start()
        try d.waitReady()
        // Within the second the backlog used its budget in.
        ring.ts = monotonicMicros()
        ring.append(level: 6, Self.faultLine(bus: 0x3d, address: 0x9000))
        let live = try JournalQuery.waitFor(
            "the live fault's entry",
            ["MESSAGE_ID=\(MessageID.fault)", "IOMMU_DEVICE=0000:3d:00.0"] + d.ownEntries,
            timeout: 3, log: d.log
        ) { $0.count == 1 }
        #expect(live[0]["IOMMU_ADDRESS"] == "0x9000")
        // The storm entries still come, later, all of them.
        _ = try JournalQuery.waitFor(
            "24 storm entries",
            ["MESSAGE_ID=\(MessageID.stormBegins)", "MESSAGE_ID=\(MessageID.stormEnds)"] + d.ownEntries,
            timeout: 20, log: d.log
        ) { $0.count == 24 }
        #expect(d.stop() == 0)
    }
}
