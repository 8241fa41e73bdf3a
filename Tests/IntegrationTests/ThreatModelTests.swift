import CLinux
import Foundation
import Glibc
import IOMMUCore
import IOMMUDaemon
import Testing

/// The threat model (ARCHITECTURE.md "Threat model"), one test per way in: what a local user,
/// a network client, a faulty or hostile device, and a careless admin can send iommud, and what
/// each must not achieve. Every test failed on the code before it. The real daemon binary, the
/// real journald; inside the serialized /dev/kmsg suite (journal and ports are shared).
extension KmsgSuite {
    @Suite("Threat model", .serialized)
    struct ThreatModel {
        // MARK: - A local user writes the journal

        /// journalctl --output=json of this run's forgery, if any.
        static func forge(_ fields: [String]) throws -> Int32 {
            let setpriv = try #require(Env.which("setpriv"))
            let logger = try #require(Env.which("logger"))
            let (rc, out) = try runCommand(
                setpriv, ["--reuid=65534", "--regid=65534", "--clear-groups", logger, "--journald"],
                stdin: fields.joined(separator: "\n") + "\n")
            #expect(rc == 0, "\(out)")
            return rc
        }

        @Test(
            "a journal entry any local user writes with iommud's fields changes nothing",
            .enabled(
                if: Journald.available && Env.which("setpriv") != nil && Env.which("logger") != nil,
                "systemd-journald, setpriv and logger (util-linux)"),
            .timeLimit(.minutes(1)))
        func forgedJournalHistory() throws {
            let journald = try Journald()
            defer { _ = journald }
            let d = Daemon(extraConfig: "[storm]\njournal_max_per_second = 10000\n")
            let ring = try d.useRecordFile()
            let bus = Kmsg.uniqueBus()
            // As nobody: "entries up to kmsg seq 2^64-1 were written by this daemon in this boot".
            _ = try Self.forge([
                "MESSAGE=forged", "MESSAGE_ID=\(MessageID.fault)", "IOMMUD_KMSG_SOURCE=\(ring.path)",
                "IOMMUD_STATE_DIRECTORY=\(d.dir.path)/state", "KMSG_SEQ=18446744073709551615",
                "IOMMU_DEVICE=0000:\(String(bus, radix: 16).leftPad(2)):1f.0", "IOMMU_KIND=dma-write",
                "IOMMU_VENDOR=intel",
            ])
            try d.start()
            try d.waitReady()
            #expect(!d.log.contains("18446744073709551615"), "the forged mark was believed:\n\(d.log)")
            ring.append(intelFault(bus: bus, device: 2, function: 0, write: true, address: 0x3000))
            let dev = "0000:\(String(bus, radix: 16).leftPad(2)):02.0"
            let entries = try JournalQuery.waitFor(
                "the real fault's entry", ["MESSAGE_ID=\(MessageID.fault)", "IOMMU_DEVICE=\(dev)"] + d.ownEntries,
                log: d.log
            ) { $0.count == 1 }
            #expect(entries.count == 1)
            #expect(d.stop() == 0)
            // `iommud log` shows the daemon's entries, not the forgery.
            let (_, forged) = try runCommand(
                Binary.path, ["log", "--device", "0000:\(String(bus, radix: 16).leftPad(2)):1f.0", "--json"])
            #expect(forged.isEmpty, "iommud log shows a forged entry: \(forged)")
        }

        @Test(
            "an entry too large to be the daemon's is not read back by iommud log",
            .enabled(if: Journald.available && Env.which("logger") != nil, "systemd-journald and logger (util-linux)"),
            .timeLimit(.minutes(1)))
        func oversizedJournalEntry() throws {
            let journald = try Journald()
            defer { _ = journald }
            let bus = Kmsg.uniqueBus()
            let device = "0000:\(String(bus, radix: 16).leftPad(2)):1e.0"
            let logger = try #require(Env.which("logger"))
            // As root (a writer `iommud log` trusts), with the daemon's fields and a 2 MiB text.
            let (rc, out) = try runCommand(
                logger, ["--journald"],
                stdin: [
                    "MESSAGE=oversized", "MESSAGE_ID=\(MessageID.fault)", "IOMMU_DEVICE=\(device)",
                    "IOMMU_KIND=dma-write",
                    "IOMMU_VENDOR=intel", "KMSG_TEXT=" + String(repeating: "x", count: 2 << 20),
                ].joined(separator: "\n") + "\n")
            #expect(rc == 0, "\(out)")
            let entries = try JournalQuery.waitFor("the oversized entry", ["IOMMU_DEVICE=\(device)"], log: "") {
                $0.count == 1
            }
            #expect(entries.count == 1)
            let (logRC, shown) = try runCommand(Binary.path, ["log", "--device", device, "--json"])
            #expect(logRC == 0 && shown.isEmpty, "iommud log read an entry over 1 MiB: \(shown.prefix(200))")
        }

        // MARK: - Network clients

        /// Opens a TCP connection without waiting for it (the listen backlog may be full).
        static func connectNonBlocking(port: Int) -> Int32 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard fd >= 0 else { return -1 }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = in_port_t(UInt16(port).bigEndian)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            _ = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            return fd
        }

        static func openFDs(_ pid: Int32) -> Int {
            (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
        }

        @Test(
            "2 000 idle connections, 200 slowloris clients and 200 stalled TLS handshakes starve nothing",
            .enabled(if: Env.which("curl") != nil && Env.which("openssl") != nil, "curl and openssl"),
            .timeLimit(.minutes(2)))
        func clientsCannotStarve() throws {
            let pki = try TestPKI()
            pki.writeWebConfig("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n")
            let d = Daemon(
                checkpointInterval: "200ms", httpConfig: "web_config = \"\(pki.webConfig)\"\nrequest_timeout = \"2s\"")
            let ring = try d.useRecordFile(firstSeq: 10)
            try d.start()
            try d.waitReady()
            #expect(try pki.curl(d, []).code == 200)
            sleep(1)
            let fdsBefore = Self.openFDs(d.pid)

            var idle: [Int32] = []
            for _ in 0..<2000 { idle.append(Self.connectNonBlocking(port: d.port)) }
            var stalledTLS: [Int32] = []
            for _ in 0..<200 {
                let fd = Self.connectNonBlocking(port: d.port)
                stalledTLS.append(fd)
            }
            var slow: [Int32] = []
            for _ in 0..<200 { slow.append(Self.connectNonBlocking(port: d.port)) }
            usleep(200_000)
            // A TLS handshake that starts and never goes on; slowloris sends a byte a second.
            let hello: [UInt8] = [0x16, 0x03, 0x01, 0x02]
            for fd in stalledTLS { _ = hello.withUnsafeBytes { send(fd, $0.baseAddress, 4, Int32(MSG_NOSIGNAL)) } }
            let stop = NIOLockedFlag()
            let slowFDs = slow
            let slowloris = Thread {
                let request = Array("GET /metrics HTTP/1.1\r\nHost: x\r\n".utf8)
                var i = 0
                while !stop.value && i < request.count {
                    for fd in slowFDs {
                        _ = withUnsafeBytes(of: request[i]) { send(fd, $0.baseAddress, 1, Int32(MSG_NOSIGNAL)) }
                    }
                    i += 1
                    sleep(1)
                }
            }
            slowloris.start()
            defer {
                stop.set()
                for fd in idle + stalledTLS + slow where fd >= 0 { close(fd) }
            }

            // Meanwhile a scrape answers within a second, status answers, faults are counted and
            // the checkpoint is written.
            let checkpoint = d.dir.path + "/state/checkpoint"
            let before =
                (try? FileManager.default.attributesOfItem(atPath: checkpoint)[.modificationDate] as? Date) ?? nil
            for i in 0..<3 { ring.append(intelFault(bus: 0x5c, device: i, function: 0, write: true, address: 0x1000)) }
            for _ in 0..<3 {
                let t0 = Date()
                let r = try pki.curl(d, [])
                let took = Date().timeIntervalSince(t0)
                #expect(r.code == 200, "\(r)")
                #expect(took < 1.0, "a scrape took \(took) s among the attackers")
                usleep(300_000)
            }
            let r = try pki.curl(d, [])
            #expect(r.body.contains("iommu_faults_total{unit=\"unknown\",device=\"0000:5c:02.0\""), "\(r)")
            let (rc, status) = try runCommand(Binary.path, ["status", "--socket", d.controlSocket])
            #expect(rc == 0, "\(status)")
            let after =
                (try? FileManager.default.attributesOfItem(atPath: checkpoint)[.modificationDate] as? Date) ?? nil
            #expect(after != nil && after != before, "the checkpoint was not written meanwhile")
            #expect(Self.openFDs(d.pid) < fdsBefore + 64 + 16 + 8, "the daemon holds more descriptors than its caps")

            // Afterwards the descriptors are back where they were.
            stop.set()
            for fd in idle + stalledTLS + slow where fd >= 0 { close(fd) }
            idle = []
            stalledTLS = []
            slow = []
            let deadline = Date().addingTimeInterval(10)
            while Self.openFDs(d.pid) > fdsBefore + 2 && Date() < deadline { usleep(100_000) }
            #expect(Self.openFDs(d.pid) <= fdsBefore + 2, "fds: \(fdsBefore) before, \(Self.openFDs(d.pid)) after")
            #expect(d.stop() == 0)
        }

        @Test(
            "the control socket: 500 idle clients and 16 that never read their answers, and status still answers",
            .timeLimit(.minutes(1)))
        func controlSocketFlood() throws {
            let d = Daemon()
            _ = try d.useRecordFile()
            try d.start()
            try d.waitReady()
            let fdsBefore = Self.openFDs(d.pid)
            var clients: [Int32] = []
            defer { for fd in clients { close(fd) } }
            for _ in 0..<500 {
                if case .success(let fd) = UnixSocket.connect(path: d.controlSocket) { clients.append(fd) }
            }
            // Clients that ask with `Connection: close` and never read the answer.
            for _ in 0..<16 {
                guard case .success(let fd) = UnixSocket.connect(path: d.controlSocket) else { continue }
                var small: Int32 = 1024
                setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
                let ask = Array("GET /status.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8)
                _ = ask.withUnsafeBytes { send(fd, $0.baseAddress, ask.count, Int32(MSG_NOSIGNAL)) }
                clients.append(fd)
            }
            #expect(clients.count > 400)
            usleep(200_000)
            for _ in 0..<3 {
                let (rc, out) = try runCommand(Binary.path, ["status", "--socket", d.controlSocket])
                #expect(rc == 0 && out.contains("Devices with faults"), "\(out)")
            }
            #expect(Self.openFDs(d.pid) < fdsBefore + 16 + 8, "the control socket holds more than its cap")
            for fd in clients { close(fd) }
            clients = []
            let deadline = Date().addingTimeInterval(10)
            while Self.openFDs(d.pid) > fdsBefore + 2 && Date() < deadline { usleep(100_000) }
            #expect(Self.openFDs(d.pid) <= fdsBefore + 2, "fds: \(fdsBefore) before, \(Self.openFDs(d.pid)) after")
            #expect(d.stop() == 0)
        }

        // MARK: - The kernel log (what a faulty or hostile device makes the kernel print)

        @Test("a count of 2^64-1 in a line saturates, never traps")
        func overflowSaturates() throws {
            let dir = TempDir()
            let log = dir.write(
                "kmsg",
                "4,1,1,-;dmar_fault: 18446744073709551615 callbacks suppressed\n4,2,2,-;dmar_fault: 18446744073709551615 callbacks suppressed\n"
            )
            let (rc, out) = try runCommand(Binary.path, ["replay", log])
            #expect(rc == 0, "\(out)")
            #expect(out.contains("dmar_fault 18446744073709551615"), "\(out)")
        }

        @Test("replay of a file without a newline stays within its memory bound")
        func noNewline() throws {
            let dir = TempDir()
            let path = dir.path + "/blob"
            // 64 MiB of one endless "line".
            let f = fopen(path, "w")!
            let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 1 << 20)
            for _ in 0..<64 { _ = chunk.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) } }
            fclose(f)
            for format in ["kmsg", "dmesg", "journal-json"] {
                // GNU time reports this one process's peak RSS (getrusage(RUSAGE_CHILDREN) would
                // give the largest child of the whole test run so far).
                let (rc, out) = try runCommand(
                    "/usr/bin/time", ["-f", "maxrss_kib=%M", Binary.path, "replay", "--format", format, path])
                #expect(rc == 0, "\(out)")
                #expect(out.contains("over the size limit"), "\(format): \(out)")
                let rss = out.split(separator: "\n").compactMap { line in
                    line.hasPrefix("maxrss_kib=") ? Int(line.dropFirst("maxrss_kib=".count)) : nil
                }.last
                // Well below the 64 MiB input.
                #expect(rss != nil && rss! < 48 * 1024, "\(format): max RSS \(rss.map(String.init) ?? "?") KiB")
            }
        }

        @Test("a compressed file that inflates to 1 GiB streams through in bounded memory", .timeLimit(.minutes(3)))
        func decompressionBomb() throws {
            let dir = TempDir()
            for (tool, args) in [("gzip", ["-1"]), ("zstd", ["-1", "-q"])] {
                guard let bin = ["/usr/bin/", "/bin/"].map({ $0 + tool }).first(where: { access($0, X_OK) == 0 }) else {
                    Issue.record("\(tool) is not installed (scripts/install-deps.sh test)")
                    continue
                }
                // 1 GiB of one endless line, a few hundred KiB (gzip) or a few dozen (zstd) on disk.
                let path = dir.path + "/bomb." + tool
                let (made, why) = try runCommand(
                    "/bin/sh",
                    [
                        "-c", "head -c 1073741824 /dev/zero | \"$0\" \(args.joined(separator: " ")) -c > \"$1\"", bin,
                        path,
                    ])
                try #require(made == 0, "\(why)")
                // GNU time reports this very process's peak RSS (RUSAGE_CHILDREN would be the largest
                // of every child this test process ever waited for, other suites' daemons included).
                let (rc, out) = try runCommand("/usr/bin/time", ["-f", "maxrss=%M", Binary.path, "replay", path])
                #expect(rc == 0, "\(tool): \(out)")
                #expect(out.contains("over the size limit"), "\(tool): \(out)")
                let rss = out.split(separator: "\n").last { $0.hasPrefix("maxrss=") }.flatMap { Int($0.dropFirst(7)) }
                #expect((rss ?? .max) < 48 * 1024, "\(tool): max RSS \(rss.map(String.init) ?? "?") KiB")
            }
        }

        @Test(
            "100 000 forged requester ids: series, memory and checkpoint stay bounded, totals exact",
            .timeLimit(.minutes(2)))
        func forgedRequesterIDs() throws {
            let d = Daemon(extraConfig: "[topology]\nmax_devices = 4096\n", checkpointInterval: "200ms")
            let ring = try d.useRecordFile()
            try d.start()
            try d.waitReady()
            // Two segments of 65 536 requester ids: the 5.15+ format with a segment (vendor trees).
            var n = 0
            var batch = ""
            for seg in 0..<2 {
                for rid in 0..<65_536 where n < 100_000 {
                    let b = String(rid >> 8, radix: 16).leftPad(2)
                    let dv = String((rid >> 3) & 0x1f, radix: 16).leftPad(2)
                    batch +=
                        "DMAR: [DMA Read NO_PASID] Request device [000\(seg + 2):\(b):\(dv).\(rid & 7)] fault addr 0x1000 [fault reason 0x06] PTE Read access is not set\u{0}"
                    n += 1
                }
            }
            for line in batch.split(separator: "\u{0}") { ring.append(String(line)) }
            let s = try d.waitFor("100 000 faults", timeout: 60) { $0.sum("iommu_faults_total") == 100_000 }
            let series = s.series("iommu_faults_total")
            #expect(series.count <= 4096 + 1, "\(series.count) series")
            #expect(s.sum("iommud_device_limit_faults_total") == Double(100_000 - 4096))
            let rss = s.sum("process_resident_memory_bytes")
            #expect(rss < 80 * 1024 * 1024, "RSS \(rss)")
            sleep(1)
            let size =
                (try FileManager.default.attributesOfItem(atPath: d.dir.path + "/state/checkpoint")[.size] as? Int) ?? 0
            #expect(size > 0 && size < 8 * 1024 * 1024, "checkpoint \(size) bytes")
            let status = try d.status()
            #expect(status["devices"].map { if case .array(let a) = $0 { a.count } else { 0 } } ?? 0 <= 4096)
            // …and status says how many went past the limit, in JSON and in text.
            #expect(status["device_limit"]?["overflow_faults"] == .number(Double(100_000 - 4096)))
            #expect(status["device_limit"]?["max_devices"] == .number(4096))
            let (_, text) = try runCommand(Binary.path, ["status", "--socket", d.controlSocket])
            #expect(text.contains("…and \(100_000 - 4096) faults of further devices"), "\(text)")
            #expect(d.stop() == 0)
        }

        @Test("control characters in kernel text reach no terminal: status, replay, log")
        func terminalInjection() throws {
            // A process named with an escape sequence segfaults: the kernel starts the line with
            // its name. Made to look like an IOMMU report, it is an unparsed line shown in status.
            let evil = "\u{1B}]0;owned\u{07}\u{1B}[2J DMAR: fault in \u{9B}31m mystery"
            let escaped = evil.replacingOccurrences(of: "\u{1B}", with: "\\x1b").replacingOccurrences(
                of: "\u{07}", with: "\\x07"
            )
            .replacingOccurrences(of: "\u{9B}", with: "\\xc2\\x9b")
            let d = Daemon()
            let ring = try d.useRecordFile()
            try d.start()
            try d.waitReady()
            ring.append(escaped)
            _ = try d.waitFor("the unparsed line") { $0.sum("iommud_unparsed_iommu_lines_total") == 1 }
            let (rc, text) = try runCommand(Binary.path, ["status", "--socket", d.controlSocket])
            #expect(rc == 0)
            #expect(text.contains("mystery") && text.contains("\\x1b]0;owned"), "\(text)")
            #expect(!text.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 || $0.value == 0x9B })
            #expect(d.stop() == 0)
            let (_, replayed) = try runCommand(Binary.path, ["replay", ring.path])
            #expect(replayed.contains("mystery"))
            #expect(!replayed.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 || $0.value == 0x9B })
        }

        // MARK: - Nothing lost silently

        @Test("a checkpoint it cannot use stops the start (exit 74); --fresh-start moves it aside")
        func unusableCheckpoint() throws {
            let d = Daemon()
            _ = try d.useRecordFile()
            try FileManager.default.createDirectory(atPath: d.dir.path + "/state", withIntermediateDirectories: true)
            // Written by a newer iommud.
            _ = d.dir.write("state/checkpoint", "iommud-checkpoint 99\nsomething new\n")
            let p = try d.start()
            p.waitUntilExit()
            #expect(p.terminationStatus == 74, "\(d.log)")
            #expect(d.log.contains("newer") && d.log.contains("--fresh-start"), "\(d.log)")
            #expect(FileManager.default.fileExists(atPath: d.dir.path + "/state/checkpoint"), "left where it is")
            // Unreadable (a directory where the file should be).
            try FileManager.default.removeItem(atPath: d.dir.path + "/state/checkpoint")
            try FileManager.default.createDirectory(
                atPath: d.dir.path + "/state/checkpoint", withIntermediateDirectories: true)
            let q = try d.start()
            q.waitUntilExit()
            #expect(q.terminationStatus == 74, "\(d.log)")
            // The explicit way past it: moved aside, a start from zero.
            try FileManager.default.removeItem(atPath: d.dir.path + "/state/checkpoint")
            _ = d.dir.write("state/checkpoint", "iommud-checkpoint 99\nsomething new\n")
            try d.start(arguments: ["--fresh-start"])
            try d.waitReady()
            #expect(d.log.contains("--fresh-start: moved it to"), "\(d.log)")
            #expect(d.stop() == 0)
            let names = try FileManager.default.contentsOfDirectory(atPath: d.dir.path + "/state")
            #expect(names.contains { $0.hasPrefix("checkpoint.corrupt-") } && names.contains("checkpoint"))
        }

        @Test(
            "a checkpoint write that fails is retried on a timer, without new records",
            .enabled(if: getuid() == 0, "root: mounts a small tmpfs"), .timeLimit(.minutes(1)))
        func checkpointRetried() throws {
            let d = Daemon(checkpointInterval: "200ms")
            let ring = try d.useRecordFile()
            let state = d.dir.path + "/state"
            try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
            let (mrc, mout) = try runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", state])
            try #require(mrc == 0, "\(mout)")
            defer { _ = try? runCommand("/bin/umount", ["-l", state]) }
            try d.start()
            try d.waitReady()
            // Fill the state directory: the next write fails (ENOSPC).
            let filler = state + "/filler"
            _ = try runCommand("/bin/dd", ["if=/dev/zero", "of=\(filler)", "bs=4k", "count=64"])
            ring.append(intelFault(bus: 0x5d, device: 1, function: 0, write: true, address: 0x1000))
            _ = try d.waitFor("the fault") { $0.sum("iommu_faults_total") == 1 }
            try eventually("the failed write is logged") { d.log.contains("cannot write the checkpoint") }
            let failedAt = try? String(contentsOfFile: state + "/checkpoint", encoding: .utf8)
            // Room again; no record comes: the timer retries and the new counts reach the disk.
            unlink(filler)
            try eventually("the checkpoint is written again", timeout: 5) {
                let now = try? String(contentsOfFile: state + "/checkpoint", encoding: .utf8)
                return now != failedAt && now?.contains("0000:5d:01.0") == true
            }
            #expect(d.log.contains("is written again"))
            #expect(d.stop() == 0)
        }
    }
}

/// A flag set from one thread and read from another.
final class NIOLockedFlag: @unchecked Sendable {
    private var lock = pthread_mutex_t()
    private var flag = false
    init() { pthread_mutex_init(&lock, nil) }
    var value: Bool {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return flag
    }
    func set() {
        pthread_mutex_lock(&lock)
        flag = true
        pthread_mutex_unlock(&lock)
    }
}
