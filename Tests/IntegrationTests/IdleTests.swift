import Foundation
import Glibc
import Testing

/// Context switches of every thread of a process (voluntary + involuntary): each is a wake-up.
func wakeups(of pid: Int32) -> [String: Int] {
    let taskDir = "/proc/\(pid)/task"
    var byThread: [String: Int] = [:]
    for tid in (try? FileManager.default.contentsOfDirectory(atPath: taskDir)) ?? [] {
        let comm = readFile("\(taskDir)/\(tid)/comm").trimmingCharacters(in: .whitespacesAndNewlines)
        var n = 0
        for line in readFile("\(taskDir)/\(tid)/status").split(separator: "\n")
        where line.hasPrefix("voluntary_ctxt_switches") || line.hasPrefix("nonvoluntary_ctxt_switches") {
            n += Int(line.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "") ?? 0
        }
        byThread["\(comm)/\(tid)"] = n
    }
    return byThread
}

/// An idle daemon must not wake: no timer runs when nothing happens (issue 10). The topology
/// rescan (5 min) and the watchdog (only under systemd) are the only timers, and neither is due
/// here. This guards the global executor (NIO's event loop, DaemonEventLoop): with libdispatch's
/// pool, its monitor woke the process every second (seen: 3 wake-ups of a dispatch thread in
/// these 3 s when the NIO executor is not installed).
@Suite("Idle", .serialized) struct IdleTests {
    @Test("an idle daemon's threads do not wake at all", .timeLimit(.minutes(1)))
    func idleDaemonDoesNotWake() throws {
        let d = Daemon(checkpointInterval: "200ms")
        let file = try d.useRecordFile()
        try d.start()
        defer { _ = d.stop() }
        try d.waitReady()
        // Some work first — a fault folded in, scraped, checkpointed — then nothing.
        file.append(intelFault(bus: 0x3a, device: 1, function: 0, write: false, address: 0x1000))
        _ = try d.waitFor("the fault") { $0.sum("iommu_faults_total") == 1 }
        _ = try d.status()
        sleep(2)  // the checkpoint write (200 ms after the fault) and the answers are over
        let before = wakeups(of: d.pid)
        // Longer than a connection's request timeout (10 s): the scrape's and the status's
        // connections are closed, so no deadline of theirs may still be armed.
        sleep(11)
        let after = wakeups(of: d.pid)
        // Per thread alive at the end (a thread born in the window counts all of its own); a
        // thread that ended in the window — an idle libdispatch worker retiring — is not a timer.
        let deltas = after.map { ($0.key, $0.value - (before[$0.key] ?? 0)) }.filter { $0.1 != 0 }
        #expect(
            deltas.isEmpty,
            "wake-ups in 11 idle seconds: \(deltas.sorted { $0.0 < $1.0 }.map { "\($0.0) \($0.1)" }.joined(separator: ", "))"
        )
    }
}
