import Foundation
import Glibc
import IOMMUCore
import IOMMUDaemon
import Testing

/// [actions] against the real daemon: what a command gets and what happens when it hangs.
extension KmsgSuite.JournalSuite {
    @Test("an on_fault action gets the fault's fields as its environment", .timeLimit(.minutes(1)))
    func actionEnvironment() throws {
        let d = Daemon(
            extraConfig: """
                [actions]
                on_fault = ["/bin/sh", "-c", "env > '\(TempDirPath.placeholder)/env-'$KMSG_SEQ"]
                """)
        try d.fillPlaceholder()
        let ring = try d.useRecordFile()
        try d.start()
        try d.waitReady()
        ring.ts = monotonicMicros()
        ring.append(level: 6, Self.faultLine(bus: 0x7c, device: 3, write: true, address: 0xffff_f000))
        let path = d.dir.path + "/env-0"
        let deadline = Date().addingTimeInterval(10)
        var env: [String: String] = [:]
        while Date() < deadline {
            if let text = try? String(contentsOfFile: path, encoding: .utf8), text.contains("KMSG_TEXT=") {
                for line in text.split(separator: "\n") {
                    guard let eq = line.firstIndex(of: "=") else { continue }
                    env[String(line[..<eq])] = String(line[line.index(after: eq)...])
                }
                break
            }
            usleep(50_000)
        }
        #expect(env["IOMMU_DEVICE"] == "0000:7c:03.0", "\(env)")
        #expect(env["IOMMU_KIND"] == "dma-write")
        #expect(env["IOMMU_REASON"] == "0x05")
        #expect(env["IOMMU_ADDRESS"] == "0xfffff000")
        #expect(env["IOMMU_VENDOR"] == "intel")
        #expect(env["IOMMU_RECOVERABLE"] == "false")
        #expect(env["KMSG_SEQ"] == "0")
        #expect(env["IOMMUD_EVENT"] == "fault")
        #expect(env["IOMMU_MESSAGE"]?.hasPrefix("DMA write by 0000:7c:03.0") == true)
        #expect(env["IOMMU_FAULT_REALTIME_USEC"] != nil)
        #expect(env["PATH"] != nil)
        #expect(env["MESSAGE_ID"] == nil && env["PRIORITY"] == nil)
        #expect(try d.metrics().sum("iommud_action_failures_total") == 0)
        #expect(d.stop() == 0)
    }

    @Test("a hanging action is killed at its timeout (SIGTERM, then SIGKILL) and counted", .timeLimit(.minutes(1)))
    func actionTimeout() throws {
        let d = Daemon(
            extraConfig: """
                [actions]
                on_fault = ["/bin/sh", "-c", "trap '' TERM; echo $$ > '\(TempDirPath.placeholder)/hung.pid'; sleep 30; echo done > '\(TempDirPath.placeholder)/hung.done'"]
                timeout = "1s"
                """)
        try d.fillPlaceholder()
        let ring = try d.useRecordFile()
        try d.start()
        try d.waitReady()
        let started = Date()
        ring.ts = monotonicMicros()
        ring.append(level: 6, Self.faultLine(bus: 0x7d, address: 0x1000))
        let s = try d.waitFor("the failure counted", timeout: 15) { $0.sum("iommud_action_failures_total") == 1 }
        let took = Date().timeIntervalSince(started)
        #expect(took >= 1 && took < 8, "killed after \(took) s")
        #expect(s.sum("iommud_action_failures_total") == 1)
        let pidText = (try? String(contentsOfFile: d.dir.path + "/hung.pid", encoding: .utf8)) ?? ""
        if let pgid = Int32(pidText.trimmingCharacters(in: .whitespacesAndNewlines)) {
            // The whole process group is gone (sh ignored SIGTERM; sleep was its child):
            // nothing of it left but zombies waiting for init.
            #expect(Self.liveProcesses(inGroup: pgid).isEmpty)
        } else {
            Issue.record("the action never started")
        }
        #expect(!FileManager.default.fileExists(atPath: d.dir.path + "/hung.done"))
        #expect(d.log.contains("SIGTERM") && d.log.contains("SIGKILL"), "\(d.log)")
        #expect(d.stop() == 0)
    }

    /// Processes of a process group that are not zombies.
    static func liveProcesses(inGroup pgid: Int32) -> [Int32] {
        var out: [Int32] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(name),
                let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 2, fields[0] != "Z", Int32(fields[2]) == pgid { out.append(pid) }
        }
        return out
    }

    // MARK: - Journal off or unreachable
}
