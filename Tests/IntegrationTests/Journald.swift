import CLinux
import Foundation
import Glibc
import IOMMUCore
import IOMMUDaemon
import Testing

/// A systemd-journald for the journal tests. Reuses one that already answers on this mount
/// namespace's /run/systemd/journal/socket (and never stops that one); otherwise starts the
/// standalone binary (it runs without systemd as PID 1) and stops it — by its pid — when done.
final class Journald {
    static let socketPath = "/run/systemd/journal/socket"
    static var binary: String? {
        ["/lib/systemd/systemd-journald", "/usr/lib/systemd/systemd-journald"].first { access($0, X_OK) == 0 }
    }
    static var available: Bool { isRunning || (binary != nil && getuid() == 0) }

    private var process: Process?

    /// True when something accepts datagrams on the journal socket.
    static var isRunning: Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { p in
            for (i, b) in socketPath.utf8.enumerated() { p[i] = b }
        }
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        } == 0
    }

    init() throws {
        if Self.isRunning { return }
        guard let bin = Self.binary else { throw HarnessError("no systemd-journald binary (apt-get install systemd)") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: bin)
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        process = p
        let deadline = Date().addingTimeInterval(10)
        while !Self.isRunning {
            guard Date() < deadline, p.isRunning else { throw HarnessError("systemd-journald did not start") }
            usleep(20_000)
        }
    }

    deinit {
        if let p = process, p.isRunning {
            kill(p.processIdentifier, SIGTERM)
            p.waitUntilExit()
        }
    }
}

/// Reads entries back with `journalctl -o json` (the way an operator would).
enum JournalQuery {
    /// Every entry matching `matches` (journalctl's FIELD=value arguments), oldest first, with
    /// their string fields.
    static func entries(_ matches: [String]) throws -> [[String: String]] {
        _ = try? runCommand(journalctlPath, ["--sync"])
        let (rc, out) = try runCommand(journalctlPath, ["-o", "json", "--no-pager"] + matches)
        guard rc == 0 || out.isEmpty || out.hasPrefix("-- No entries --") else {
            throw HarnessError("journalctl failed (\(rc)): \(out)")
        }
        var result: [[String: String]] = []
        for line in out.split(separator: "\n") where line.hasPrefix("{") {
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { continue }
            var e: [String: String] = [:]
            for (k, v) in obj {
                if let s = v as? String { e[k] = s }
            }
            result.append(e)
        }
        return result
    }

    /// Polls until `done` holds on the matching entries.
    static func waitFor(
        _ what: String, _ matches: [String], timeout: Double = 15, log: @autoclosure () -> String = "",
        until done: ([[String: String]]) -> Bool
    ) throws -> [[String: String]] {
        let deadline = Date().addingTimeInterval(timeout)
        var last: [[String: String]] = []
        while Date() < deadline {
            last = try entries(matches)
            if done(last) { return last }
            usleep(100_000)
        }
        throw HarnessError(
            "timed out waiting for \(what) (journalctl \(matches.joined(separator: " "))): \(last.count) entries:\n"
                + last.map { $0["MESSAGE"] ?? "?" }.joined(separator: "\n") + "\nlog:\n" + log())
    }
}

/// CLOCK_MONOTONIC in µs: what the kernel stamps kmsg records with, for records a test writes
/// into a kmsg file that must look current.
func monotonicMicros() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
}

/// journalctl's `--since` for a CLOCK_REALTIME time in µs.
func journalSince(_ usec: Int64) -> String {
    "--since=@\(usec / 1_000_000).\(String(format: "%06lld", usec % 1_000_000))"
}

func realtimeMicros() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
}

extension Daemon {
    /// Rewrites the config file: `edit` gets its text and returns the new text.
    func editConfig(_ edit: (String) -> String) throws {
        let cfg = try String(contentsOfFile: configPath, encoding: .utf8)
        try edit(cfg).write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// A file of kmsg records in the daemon's directory, made its [sources] kmsg (and, given a
    /// boot id, a file holding it made its `boot_id`).
    func useRecordFile(firstSeq: UInt64 = 0, bootID: String? = nil) throws -> RecordFile {
        let file = RecordFile(path: dir.path + "/kmsg", firstSeq: firstSeq)
        try useKmsgFile(file.path, bootID: bootID)
        return file
    }

    /// Points [sources] kmsg at a file of kmsg records the test appends to.
    func useKmsgFile(_ path: String, bootID: String? = nil) throws {
        var line = "kmsg = \"\(path)\""
        if let bootID { line += "\nboot_id = \"\(dir.write("boot_id", bootID + "\n"))\"" }
        try editConfig { $0.replacingOccurrences(of: "kmsg = \"/dev/kmsg\"", with: line) }
    }

    var pid: Int32 { process?.processIdentifier ?? -1 }

    /// journalctl arguments that pick the entries of the current process: its _PID, and only
    /// entries since it started. PIDs come round again (a build spawns tens of thousands of
    /// processes) and the journal keeps the entries of earlier processes that had this PID.
    var ownEntries: [String] { ["_PID=\(pid)", journalSince(startedRealtime)] }
}

let journalctlPath = Env.which("journalctl") ?? "/usr/bin/journalctl"
