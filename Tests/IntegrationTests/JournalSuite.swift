import Foundation
import Glibc
import IOMMUCore
import IOMMUDaemon
import Testing

/// The journal sink, storms, actions and `iommud log` against a real systemd-journald, read
/// back with `journalctl -o json`. Nested in the serialized /dev/kmsg suite: one test at a time
/// touches the shared kernel log and journal. Entries are told apart by the daemon's _PID and
/// start time (other daemons on this machine may journal the same kernel records, and PIDs come
/// round again) and a device bus unique to the run; storms and crashes use a kmsg *file* the
/// test appends to, never a flood of /dev/kmsg.
extension KmsgSuite {
    @Suite("journald", .serialized, .enabled(if: Journald.available, "needs systemd-journald (root)"))
    struct JournalSuite {
        let journald: Journald

        init() throws {
            journald = try Journald()
        }

        static func hex2(_ b: UInt8) -> String { String(b, radix: 16).leftPad(2) }

        /// A fault line the file-source tests append (level 6, facility 0: a kernel record).
        static func faultLine(bus: UInt8, device: Int = 0, write: Bool = true, address: UInt64) -> String {
            intelFault(bus: bus, device: device, function: 0, write: write, address: address)
        }

        // MARK: - Fault entries on the real /dev/kmsg

        @Test(
            "one entry per fault with every field; the backlog keeps its own time; started/stopped",
            .timeLimit(.minutes(2)))
        func faultEntries() throws {
            let bus = Kmsg.uniqueBus()
            let dev = "0000:\(Self.hex2(bus)):01.0"
            // Written before the daemon runs: read from the backlog, it must not look new.
            let before = realtimeMicros()
            Kmsg.inject(intelFault(bus: bus, device: 1, function: 0, write: true, address: 0xffff_f000))
            sleep(2)
            let d = Daemon(extraConfig: "[storm]\njournal_max_per_second = 10000\n")
            try d.start()
            try d.waitReady()
            let during = realtimeMicros()
            Kmsg.inject(intelFault(bus: bus, device: 1, function: 0, write: false, address: 0x2000))
            let matches = ["MESSAGE_ID=\(MessageID.fault)", "IOMMU_DEVICE=\(dev)"] + d.ownEntries
            var entries = try JournalQuery.waitFor("2 fault entries", matches, log: d.log) { $0.count >= 2 }
            entries.sort { UInt64($0["KMSG_SEQ"] ?? "") ?? 0 < UInt64($1["KMSG_SEQ"] ?? "") ?? 0 }
            #expect(entries.count == 2, "each fault once")
            let (w, r) = (entries[0], entries[1])
            #expect(w["MESSAGE"]?.hasPrefix("DMA write by \(dev)") == true, "\(w["MESSAGE"] ?? "")")
            #expect(
                w["MESSAGE"]?.contains("to 0xfffff000 blocked: PTE Write access is not set — likely driver bug") == true
            )
            #expect(w["PRIORITY"] == "3")
            #expect(w["SYSLOG_IDENTIFIER"] == "iommud")
            #expect(w["IOMMU_VENDOR"] == "intel")
            #expect(w["IOMMU_UNIT"]?.isEmpty == false)
            #expect(w["IOMMU_DEVICE"] == dev)
            #expect(w["IOMMU_KIND"] == "dma-write")
            #expect(w["IOMMU_REASON"] == "0x05")
            #expect(w["IOMMU_REASON_TEXT"] == "PTE Write access is not set")
            #expect(w["IOMMU_OWNER"] == "driver")
            #expect(w["IOMMU_ADDRESS"] == "0xfffff000")
            #expect(w["IOMMU_ACCESS"] == "write")
            #expect(w["IOMMU_RECOVERABLE"] == "false")
            #expect(w["IOMMU_PASID"] == nil, "null fields are left out")
            #expect(w["KMSG_TEXT"]?.contains("Request device [\(Self.hex2(bus)):01.0] fault addr 0xfffff000") == true)
            #expect(UInt64(w["KMSG_SEQ"] ?? "") != nil && UInt64(w["KMSG_TS_USEC"] ?? "") != nil)
            #expect(r["IOMMU_KIND"] == "dma-read" && r["IOMMU_ADDRESS"] == "0x2000" && r["IOMMU_REASON"] == "0x06")
            // Wall time of the fault, from the kmsg timestamp: the backlog fault happened ≥ 2 s
            // before it was journaled, the live one within a second of being written.
            let wTime = Int64(w["IOMMU_FAULT_REALTIME_USEC"] ?? "") ?? 0
            let wJournaled = Int64(w["__REALTIME_TIMESTAMP"] ?? "") ?? 0
            #expect(abs(wTime - before) < 1_000_000, "backlog fault time \(wTime) vs written at \(before)")
            #expect(wJournaled - wTime >= 1_500_000, "the backlog fault must not look new")
            let rTime = Int64(r["IOMMU_FAULT_REALTIME_USEC"] ?? "") ?? 0
            #expect(abs(rTime - during) < 1_000_000)

            // `iommud log` finds them through the journal API, oldest first, without the daemon.
            // The journal outlives the ring buffer: an earlier run may have used this bus when
            // it was free, so the queries start where this test did.
            #expect(d.stop() == 0)
            let since = "@\(Double(before - 1_000_000) / 1e6)"
            let (rc, out) = try runCommand(Binary.path, ["log", "--device", dev, "--since", since, "--json"])
            #expect(rc == 0, "\(out)")
            let lines = out.split(separator: "\n").compactMap { MiniJSON.parse(String($0)) }
            #expect(lines.count == 2, "\(out)")
            if lines.count == 2 {
                #expect(lines[0]["device"] == .string(dev) && lines[0]["kind"] == .string("dma-write"))
                #expect(lines[0]["address"] == .string("0xfffff000") && lines[0]["reason"] == .string("0x05"))
                #expect(lines[0]["reason_text"] == .string("PTE Write access is not set"))
                #expect(lines[0]["recoverable"] == .bool(false) && lines[0]["owner"] == .string("driver"))
                #expect(lines[1]["kind"] == .string("dma-read") && lines[1]["address"] == .string("0x2000"))
                if case .number(let s0)? = lines[0]["seq"], case .number(let s1)? = lines[1]["seq"] {
                    #expect(s0 < s1)
                }
                if case .string(let t)? = lines[0]["time"] { #expect(t.hasSuffix("Z") && t.contains("T")) }
                #expect(lines[0]["realtime_usec"] == .number(Double(wTime)))
            }
            // Filters: kind, and time on the fault's own time.
            let (_, reads) = try runCommand(
                Binary.path, ["log", "--device", dev, "--kind", "dma-read", "--since", since, "--json"])
            #expect(reads.split(separator: "\n").count == 1)
            let (_, recent) = try runCommand(
                Binary.path, ["log", "--device", dev, "--since", "@\(Double(during - 500_000) / 1e6)", "--json"])
            #expect(recent.split(separator: "\n").count == 1, "--since filters on the fault's time: \(recent)")
            let (_, hour) = try runCommand(Binary.path, ["log", "--device", dev, "--since=-1h"])
            #expect(hour.contains(dev) && hour.contains("dma-write") && hour.contains("TIME"))
            let (_, none) = try runCommand(
                Binary.path, ["log", "--device", dev, "--until", "2001-01-01 00:00:00", "--json"])
            #expect(none.isEmpty)
        }

        @Test("daemon started and stopped entries", .timeLimit(.minutes(1)))
        func startedStopped() throws {
            let d = Daemon()
            _ = try d.useRecordFile()
            try d.start()
            try d.waitReady()
            let own = d.ownEntries
            _ = try JournalQuery.waitFor("daemon started", ["MESSAGE_ID=\(MessageID.daemonStarted)"] + own) {
                $0.count == 1 && $0[0]["PRIORITY"] == "6"
            }
            #expect(d.stop() == 0)
            let stopped = try JournalQuery.waitFor(
                "daemon stopped", ["MESSAGE_ID=\(MessageID.daemonStopped)"] + own
            ) { $0.count == 1 }
            #expect(stopped[0]["MESSAGE"]?.contains("stopped") == true)
        }

        // MARK: - Storms, from a kmsg file

        @Test("iommud log says clearly when the journal cannot be read", .enabled(if: Env.which("setpriv") != nil))
        func logUnreadable() throws {
            let (rc, out) = try runCommand(
                Env.which("setpriv")!,
                ["--reuid=65534", "--regid=65534", "--clear-groups", Binary.path, "log", "--device", "0000:3d:00.0"])
            #expect(rc == 1, "\(out)")
            #expect(out.hasPrefix("iommud log: no journal files are readable here"), "\(out)")
            #expect(out.split(separator: "\n").count == 1)
            let (bad, msg) = try runCommand(Binary.path, ["log", "--since", "whenever"])
            #expect(bad == 64 && msg.contains("cannot read the time 'whenever'"), "\(msg)")
        }

        // MARK: - Exactly once across a crash

        @Test(
            "SIGKILL between a journal send and the next checkpoint: no entry twice, no action twice",
            .timeLimit(.minutes(2)))
        func crash() throws {
            let d = Daemon(
                extraConfig: """
                    [storm]
                    threshold = 100
                    journal_max_per_second = 100
                    [actions]
                    on_fault = ["/bin/sh", "-c", "echo $KMSG_SEQ >> '\(TempDirPath.placeholder)/actions'"]
                    max_concurrent = 10
                    max_per_minute = 100
                    """, checkpointInterval: "1h")
            try d.fillPlaceholder()
            let ring = try d.useRecordFile()
            let dev = "0000:6b:00.0"
            func write(_ n: Int) {
                for _ in 0..<n {
                    ring.ts = monotonicMicros()
                    ring.append(level: 6, Self.faultLine(bus: 0x6b, address: 0x1000 * (ring.seq + 1)))
                    usleep(150_000)  // slower than a storm
                }
            }
            write(4)
            try d.start()
            try d.waitReady()
            let first = d.pid
            let since = journalSince(d.startedRealtime)
            write(2)
            let matches = ["MESSAGE_ID=\(MessageID.fault)", "IOMMU_DEVICE=\(dev)"] + d.ownEntries
            _ = try JournalQuery.waitFor("6 entries", matches, log: d.log) { $0.count == 6 }
            // Wait for the actions too, then crash before any checkpoint was written.
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline {
                let n = ((try? String(contentsOfFile: d.dir.path + "/actions", encoding: .utf8)) ?? "").split(
                    separator: "\n"
                )
                .count
                if n == 6 { break }
                usleep(50_000)
            }
            #expect(!FileManager.default.fileExists(atPath: d.dir.path + "/state/checkpoint"), "no checkpoint yet")
            d.stop(SIGKILL)
            write(2)
            try d.start()
            try d.waitReady()
            let second = d.pid
            let secondOwn = d.ownEntries
            write(1)
            _ = try JournalQuery.waitFor(
                "the 3 new entries", ["MESSAGE_ID=\(MessageID.fault)", "IOMMU_DEVICE=\(dev)"] + secondOwn,
                log: d.log
            ) { $0.count == 3 }
            _ = try d.waitFor("9 faults counted") { $0.sum("iommu_faults_total", where: ["device": dev]) == 9 }
            usleep(500_000)
            let entries = try JournalQuery.entries(["MESSAGE_ID=\(MessageID.fault)", "IOMMU_DEVICE=\(dev)", since])
                .filter { $0["_PID"] == String(first) || $0["_PID"] == String(second) }
            let seqs = entries.compactMap { $0["KMSG_SEQ"] }.sorted { Int($0)! < Int($1)! }
            #expect(seqs == (0..<9).map(String.init), "every record journaled exactly once: \(seqs)")
            let actions = ((try? String(contentsOfFile: d.dir.path + "/actions", encoding: .utf8)) ?? "")
                .split(separator: "\n").map(String.init).sorted { Int($0)! < Int($1)! }
            #expect(actions == (0..<9).map(String.init), "every action ran exactly once: \(actions)")
            #expect(d.stop() == 0)
            // A clean restart (checkpoint with journaledSeq this time) repeats nothing either.
            try d.start()
            try d.waitReady()
            usleep(500_000)
            #expect(try JournalQuery.entries(["MESSAGE_ID=\(MessageID.fault)"] + d.ownEntries).isEmpty)
            #expect(d.stop() == 0)
        }

        @Test("kmsg records never seen: one 'records lost' entry", .timeLimit(.minutes(1)))
        func recordsLost() throws {
            let d = Daemon()
            let ring = try d.useRecordFile()
            ring.ts = monotonicMicros()
            ring.append(level: 6, "usb 1-1: new high-speed USB device number 2 using xhci_hcd")
            try d.start()
            try d.waitReady()
            ring.skip(5)
            ring.append(level: 6, "e1000e 0000:00:19.0 eth0: NIC Link is Up 1000 Mbps Full Duplex")
            let lost = try JournalQuery.waitFor(
                "the loss entry", ["MESSAGE_ID=\(MessageID.recordsLost)"] + d.ownEntries, log: d.log
            ) { $0.count == 1 }
            #expect(lost[0]["KMSG_LOST"] == "5")
            #expect(lost[0]["KMSG_SEQ"] == "6")
            #expect(lost[0]["KMSG_LOST_AFTER_SEQ"] == "0")
            #expect(lost[0]["PRIORITY"] == "4")
            #expect(lost[0]["MESSAGE"]?.hasPrefix("5 kernel log records lost between seq 0 and seq 6") == true)
            #expect(d.stop() == 0)
        }

        // MARK: - Actions

        @Test("[journal] enabled = false sends nothing; the daemon still counts", .timeLimit(.minutes(1)))
        func journalDisabled() throws {
            let d = Daemon(extraConfig: "[journal]\nenabled = false\n")
            let ring = try d.useRecordFile()
            try d.start()
            try d.waitReady()
            ring.ts = monotonicMicros()
            ring.append(level: 6, Self.faultLine(bus: 0x7e, address: 0x1000))
            _ = try d.waitFor("the fault") { $0.sum("iommu_faults_total", where: ["device": "0000:7e:00.0"]) == 1 }
            usleep(300_000)
            #expect(
                try JournalQuery.entries(d.ownEntries + ["SYSLOG_IDENTIFIER=iommud"]).filter {
                    $0["MESSAGE_ID"] != nil
                }.isEmpty
            )
            #expect(try d.metrics().sum("iommud_journal_errors_total") == 0)
            #expect(d.stop() == 0)
        }

        @Test(
            "journald not reachable: the daemon goes on, says so once, counts iommud_journal_errors_total",
            .enabled(if: Env.which("unshare") != nil), .timeLimit(.minutes(1)),
            arguments: ["no socket", "a socket nobody listens on"])
        func journalUnreachable(_ how: String) throws {
            let d = Daemon()
            let ring = try d.useRecordFile()
            let empty = d.dir.path + "/no-journal"
            try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
            if how != "no socket" { try Self.staleSocket(empty + "/socket") }
            // A private mount namespace where /run/systemd/journal is that directory.
            try d.start(wrappedIn: [
                "/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                "mkdir -p /run/systemd/journal && mount --bind '\(empty)' /run/systemd/journal && exec \"$0\" \"$@\"",
            ])
            try d.waitReady()
            for i in 0..<3 {
                ring.ts = monotonicMicros()
                ring.append(level: 6, Self.faultLine(bus: 0x7f, address: UInt64(0x1000 * (i + 1))))
            }
            let s = try d.waitFor("3 faults and the errors") {
                $0.sum("iommu_faults_total", where: ["device": "0000:7f:00.0"]) == 3
                    && $0.sum("iommud_journal_errors_total") >= 3
            }
            #expect(s.sum("iommud_journal_errors_total") >= 3)
            #expect(d.log.components(separatedBy: "the journal is not reachable").count == 2, "said once:\n\(d.log)")
            #expect(try d.status()["daemon"] != nil, "still running")
            #expect(d.stop() == 0)
        }

        /// A Unix datagram socket file nobody listens on (what a stopped journald leaves).
        static func staleSocket(_ path: String) throws {
            let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &addr.sun_path) { p in
                for (i, b) in path.utf8.enumerated() { p[i] = b }
            }
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            close(fd)
            guard rc == 0 else { throw HarnessError("cannot bind \(path)") }
        }

        // MARK: - The catalog

        @Test(
            "journalctl --update-catalog accepts the catalog and journalctl -x shows its text", .timeLimit(.minutes(1)),
            .enabled(if: Env.which("unshare") != nil, "unshare (package util-linux)"))
        func catalog() throws {
            let root = TempDir("iommud-catalog")
            let catalogDir = root.path + "/usr/lib/systemd/catalog"
            try FileManager.default.createDirectory(atPath: catalogDir, withIntermediateDirectories: true)
            try FileManager.default.copyItem(
                atPath: Binary.packageRoot + "/systemd/iommud.catalog", toPath: catalogDir + "/iommud.catalog")
            var (rc, out) = try runCommand(journalctlPath, ["--root=\(root.path)", "--update-catalog"])
            #expect(rc == 0, "\(out)")
            (rc, out) = try runCommand(journalctlPath, ["--root=\(root.path)", "--list-catalog"])
            #expect(rc == 0)
            for (name, id) in MessageID.all {
                #expect(out.contains(id), "the catalog explains \(name) (\(id))")
            }
            // An entry to explain.
            let d = Daemon()
            let ring = try d.useRecordFile()
            try d.start()
            try d.waitReady()
            ring.ts = monotonicMicros()
            ring.append(level: 6, Self.faultLine(bus: 0x7b, address: 0x4000))
            let own = d.ownEntries
            _ = try JournalQuery.waitFor("the fault entry", ["MESSAGE_ID=\(MessageID.fault)"] + own) {
                $0.count == 1
            }
            #expect(d.stop() == 0)
            // journalctl -x reads /var/lib/systemd/catalog/database whatever --root says: show it
            // the test's database in a private mount namespace instead of touching the system's.
            let unshare = try #require(Env.which("unshare"))
            (rc, out) = try runCommand(
                unshare,
                [
                    "--mount", "--propagation", "private", "/bin/sh", "-c",
                    "mount --bind '\(root.path)/var/lib/systemd/catalog' /var/lib/systemd/catalog && exec '\(journalctlPath)' -x --no-pager MESSAGE_ID=\(MessageID.fault) \(own.joined(separator: " "))",
                ])
            #expect(rc == 0, "\(out)")
            #expect(out.contains("Subject: IOMMU fault: dma-write by 0000:7b:00.0"), "\(out)")
            #expect(out.contains("What to do"))
        }
    }
}

/// Lets a config written before the daemon's temp dir exists name files inside it.
enum TempDirPath {
    static let placeholder = "@TMPDIR@"
}

extension Daemon {
    func fillPlaceholder() throws {
        try editConfig { $0.replacingOccurrences(of: TempDirPath.placeholder, with: dir.path) }
    }
}
