import Foundation
import Glibc
import IOMMUCore
import IOMMUDaemon
import Testing

@Suite("Exactly once", .serialized)
struct ExactlyOnceTests {
    init() throws {
        guard Binary.exists else { throw HarnessError("no iommud binary at \(Binary.path)") }
    }

    static func assertMatches(_ scrape: Scrape, _ truth: Truth, file: String = #fileID) {
        var got: [String: [String: Int]] = [:]
        for s in scrape.series("iommu_faults_total") {
            got[s.labels["device"]!, default: [:]][s.labels["kind"]!, default: 0] += Int(s.value)
        }
        #expect(
            got == truth.counts,
            "per device and kind: expected \(truth.total) faults, got \(got.values.flatMap(\.values).reduce(0, +))")
    }

    /// Thousands of faults — single records, AMD split events (a header record, then its body
    /// after unrelated records) — while the daemon is SIGKILLed at random moments and started
    /// again, 20 times. The final counts equal what was written, per device and kind.
    @Test("20 SIGKILLs at random moments: exact counts, groups neither lost nor doubled", .timeLimit(.minutes(3)))
    func sigkillStorm() throws {
        let d = Daemon(checkpointInterval: "50ms")
        let ring = try d.useRecordFile(bootID: "6b3c0f4e-0000-4000-8000-000000000001")
        var truth = Truth()
        var rng = SystemRandomNumberGenerator()
        try d.start()
        var written = 0
        for cycle in 0..<20 {
            let burst = Int.random(in: 80...160, using: &rng)
            let killAt = Int.random(in: 0..<burst, using: &rng)
            for i in 0..<burst {
                let bus = UInt8(0x10 + cycle)
                let dev = Int.random(in: 0..<4, using: &rng)
                switch Int.random(in: 0..<10, using: &rng) {
                case 0..<6:
                    let write = Bool.random(using: &rng)
                    ring.append(intelFault(bus: bus, device: dev, function: 0, write: write, address: 0x1000))
                    truth.add(
                        "0000:\(String(bus, radix: 16).leftPad(2)):\(String(dev, radix: 16).leftPad(2)).0",
                        write ? "dma-write" : "dma-read")
                case 6..<8:
                    // AMD 4.9–4.17: the header and the body are two records, with noise between.
                    ring.append("AMD-Vi: Event logged [")
                    if i == killAt {
                        // Killed with the group's header read and its body not yet written.
                        usleep(UInt32.random(in: 0...150_000, using: &rng))
                        d.stop(SIGKILL)
                        try d.start()
                        try d.waitReady()
                    }
                    ring.append(level: 6, "usb 1-1: new high-speed USB device number \(i) using xhci_hcd")
                    ring.append(
                        level: 4,
                        "IO_PAGE_FAULT device=\(String(bus, radix: 16).leftPad(2)):\(String(dev, radix: 16).leftPad(2)).1 domain=0x0012 address=0x00000000ff6101b0 flags=0x0070]"
                    )
                    truth.add(
                        "0000:\(String(bus, radix: 16).leftPad(2)):\(String(dev, radix: 16).leftPad(2)).1",
                        "io-page-fault")
                default:
                    ring.append(level: 6, "e1000e 0000:00:19.0 eth0: NIC Link is Up 1000 Mbps Full Duplex")
                }
                written += 1
                if i == killAt {
                    // Somewhere between reading, folding in and checkpointing.
                    usleep(UInt32.random(in: 0...150_000, using: &rng))
                    d.stop(SIGKILL)
                    try d.start()
                    try d.waitReady()
                }
                if i % 16 == 0 { usleep(UInt32.random(in: 0...3000, using: &rng)) }
            }
        }
        let last = ring.seq - 1
        let scrape = try d.waitFor("every record read", timeout: 30) { $0.sum("iommud_kmsg_last_seq") == Double(last) }
        Self.assertMatches(scrape, truth)
        #expect(truth.total > 1000, "the test wrote \(truth.total) faults")
        #expect(scrape.sum("iommud_kmsg_lost_records_total") == 0)
        // Every record counted once: the file's records, no more.
        #expect(scrape.sum("iommud_kmsg_records_total") == Double(ring.seq))
        #expect(d.stop() == 0)
        // The kills really landed mid-stream: restarts resumed from many different checkpoints.
        let resumes = Set(d.log.split(separator: "\n").filter { $0.contains("resuming this boot after kmsg seq") })
        #expect(resumes.count >= 10, "only \(resumes.count) distinct resume points")
    }

    /// SIGTERM (clean stop, final checkpoint) and SIGHUP (reload without re-reading anything)
    /// in the middle of the stream: same exact counts.
    @Test("SIGTERM and SIGHUP mid-stream: exact counts", .timeLimit(.minutes(2)))
    func sigtermAndSighup() throws {
        let d = Daemon(checkpointInterval: "1s")
        let ring = try d.useRecordFile(bootID: "6b3c0f4e-0000-4000-8000-000000000002")
        var truth = Truth()
        try d.start()
        try d.waitReady()
        for round in 0..<12 {
            for i in 0..<50 {
                ring.append(intelFault(bus: 0x40, device: i % 3, function: 2, write: i % 2 == 0, address: 0x2000))
                truth.add("0000:40:\(String(i % 3, radix: 16).leftPad(2)).2", i % 2 == 0 ? "dma-write" : "dma-read")
                if i == 25 {
                    if round % 2 == 0 {
                        #expect(d.stop(SIGTERM) == 0)
                        try d.start()
                        // As under systemd: signals come once the daemon is up.
                        try d.waitReady()
                    } else {
                        d.signal(SIGHUP)
                    }
                }
            }
        }
        let last = ring.seq - 1
        let scrape = try d.waitFor("every record read", timeout: 30) { $0.sum("iommud_kmsg_last_seq") == Double(last) }
        Self.assertMatches(scrape, truth)
        #expect(scrape.sum("iommud_config_last_reload_successful") == 1)
        #expect(d.log.contains("configuration reloaded"))
        #expect(d.stop() == 0)
    }

    /// Records with sequence gaps, as the kernel shows them after an overrun: the lost count is
    /// exactly the gaps, and status says between which records.
    @Test("seq gaps are counted exactly as lost records")
    func gaps() throws {
        let d = Daemon()
        let ring = try d.useRecordFile(firstSeq: 500, bootID: "6b3c0f4e-0000-4000-8000-000000000003")
        ring.append(level: 6, "first")  // 500: a new boot's first read — 500 records wrapped before
        try d.start()
        try d.waitReady()
        ring.append(level: 6, "a")  // 501
        ring.skip(7)  // 502…508 lost
        ring.append(level: 6, "b")  // 509
        ring.skip(1)  // 510 lost
        ring.append(intelFault(bus: 0x41, device: 1, function: 0, write: false, address: 0x1000))  // 511
        let scrape = try d.waitFor("seq 511") { $0.sum("iommud_kmsg_last_seq") == 511 }
        #expect(scrape.sum("iommud_kmsg_lost_records_total") == 500 + 7 + 1)
        let status = try d.status()
        guard case .array(let losses)? = status["kmsg"]?["losses"] else {
            Issue.record("no losses in status")
            return
        }
        #expect(losses.count == 3)
        #expect(losses[1]["after_seq"] == .number(501))
        #expect(losses[1]["before_seq"] == .number(509))
        #expect(losses[1]["count"] == .number(7))
        let (_, text) = try runCommand(Binary.path, ["status", "--socket", d.controlSocket])
        #expect(text.contains("records lost between seq 501 and seq 509: 7"))
        // A restart with records lost meanwhile counts that gap too, exactly.
        #expect(d.stop() == 0)
        ring.skip(20)  // 512…531 overwritten while the daemon was down
        ring.append(level: 6, "after")  // 532
        try d.start()
        let again = try d.waitFor("seq 532") { $0.sum("iommud_kmsg_last_seq") == 532 }
        #expect(again.sum("iommud_kmsg_lost_records_total") == 508 + 20)
        #expect(d.stop() == 0)
    }

    /// The same through a FIFO: records arrive as a stream (no file to re-read), with the gaps
    /// an overrun leaves, and the daemon is the reader the kernel would otherwise be.
    @Test("seq gaps through a FIFO source are counted exactly as lost records", .timeLimit(.minutes(1)))
    func fifoGaps() throws {
        let d = Daemon()
        let fifo = d.dir.path + "/kmsg.fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        try d.useKmsgFile(fifo, bootID: "6b3c0f4e-0000-4000-8000-00000000000b")
        try d.start()
        defer { _ = d.stop() }
        let fd = open(fifo, O_WRONLY)  // returns once the daemon has the FIFO open
        #expect(fd >= 0)
        defer { close(fd) }
        var seq: UInt64 = 0
        var written = 0
        func send(_ n: Int, skipAfter: UInt64) {
            var text = ""
            for i in 0..<n {
                let fault = intelFault(
                    bus: 0x4a, device: 2, function: 0, write: false, address: UInt64(0x1000 * (i + 1)))
                text += "6,\(seq),\(1_000_000 + seq),-;\(fault)\n"
                seq += 1
            }
            seq += skipAfter
            written += n
            _ = text.withCString { write(fd, $0, strlen($0)) }
        }
        send(10, skipAfter: 10)  // 0…9, then 10…19 lost
        send(10, skipAfter: 70)  // 20…29, then 30…99 lost
        send(5, skipAfter: 0)  // 100…104
        let s = try d.waitFor("seq 104") { $0.sum("iommud_kmsg_last_seq") == 104 }
        #expect(s.sum("iommud_kmsg_lost_records_total") == 10 + 70)
        #expect(s.sum("iommud_kmsg_records_total") == Double(written))
        #expect(s.sum("iommu_faults_total") == Double(written))
    }

    /// A new boot starts this boot's counters from zero; lifetime totals keep the old ones.
    @Test("a new boot id: per-boot counters restart, lifetime keeps the total")
    func newBoot() throws {
        let d = Daemon()
        let ring = try d.useRecordFile(bootID: "6b3c0f4e-0000-4000-8000-00000000000a")
        ring.append(intelFault(bus: 0x42, device: 1, function: 0, write: true, address: 0x1000))
        try d.start()
        _ = try d.waitFor("boot 1's fault") { $0.sum("iommu_faults_total") == 1 }
        #expect(d.stop() == 0)
        // Reboot: a new boot id and a new ring buffer.
        _ = d.dir.write("boot_id", "6b3c0f4e-0000-4000-8000-00000000000b\n")
        try? FileManager.default.removeItem(atPath: ring.path)
        let ring2 = RecordFile(path: ring.path)
        ring2.append(intelFault(bus: 0x42, device: 2, function: 0, write: true, address: 0x1000))
        ring2.append(intelFault(bus: 0x42, device: 2, function: 0, write: true, address: 0x2000))
        try d.start()
        let s = try d.waitFor("boot 2's faults") { $0.sum("iommu_faults_total") == 2 }
        #expect(s.sum("iommu_faults_total", where: ["device": "0000:42:01.0"]) == 0)
        let status = try d.status()
        #expect(status["lifetime"]?["faults"] == .number(3))
        #expect(status["lifetime"]?["boots"] == .number(2))
        #expect(d.stop() == 0)
    }

    @Test("a corrupt checkpoint is moved aside and the daemon starts clean")
    func corruptCheckpoint() throws {
        let d = Daemon()
        let ring = try d.useRecordFile(bootID: "6b3c0f4e-0000-4000-8000-000000000004")
        ring.append(intelFault(bus: 0x43, device: 1, function: 0, write: true, address: 0x1000))
        try FileManager.default.createDirectory(atPath: d.dir.path + "/state", withIntermediateDirectories: true)
        _ = d.dir.write("state/checkpoint", "iommud-checkpoint 2\nboot_id\tx\nfault\tgarbage")
        try d.start()
        _ = try d.waitFor("the fault") { $0.sum("iommu_faults_total") == 1 }
        #expect(d.log.contains("is corrupt"))
        let moved = try FileManager.default.contentsOfDirectory(atPath: d.dir.path + "/state").filter {
            $0.hasPrefix("checkpoint.corrupt-")
        }
        #expect(moved.count == 1)
        #expect(d.stop() == 0)
    }

    @Test("an old-format (v1) checkpoint is migrated with its counters")
    func migrateV1() throws {
        let d = Daemon()
        let boot = "0d6f4f57-7f6c-4f0e-9a55-0d1f5c0e5a11"
        let ring = try d.useRecordFile(firstSeq: 4700, bootID: boot)
        for _ in 0..<12 { ring.append(level: 6, "old noise") }  // 4700…4711, counted before
        ring.append(intelFault(bus: 0x44, device: 1, function: 0, write: false, address: 0x1000))  // 4712, new
        try FileManager.default.createDirectory(atPath: d.dir.path + "/state", withIntermediateDirectories: true)
        let v1 = readFile(Binary.packageRoot + "/Tests/IOMMUCoreTests/Fixtures/checkpoint/v1.txt")
        _ = d.dir.write("state/checkpoint", v1)
        try d.start()
        let s = try d.waitFor("the v1 counters plus the new fault") { $0.sum("iommu_faults_total") == 8 }
        #expect(s.sum("iommu_faults_total", where: ["device": "0000:00:01.0", "kind": "dma-read"]) == 5)
        #expect(s.sum("iommu_faults_total", where: ["device": "0000:44:01.0"]) == 1)
        #expect(d.log.contains("migrating the checkpoint from format 1"))
        #expect(d.stop() == 0)
        let rewritten = readFile(d.dir.path + "/state/checkpoint")
        #expect(rewritten.hasPrefix("iommud-checkpoint 2\n"))
    }

    /// READY once the backlog is read, STATUS with it, WATCHDOG while healthy, RELOADING on
    /// SIGHUP, STOPPING on SIGTERM — read from a notify socket the test owns.
    @Test("sd_notify: READY, STATUS, WATCHDOG, RELOADING, STOPPING in order", .timeLimit(.minutes(1)))
    func notify() throws {
        let d = Daemon()
        let ring = try d.useRecordFile(bootID: "6b3c0f4e-0000-4000-8000-000000000005")
        ring.append(intelFault(bus: 0x45, device: 1, function: 0, write: true, address: 0x1000))
        let sock = NotifySocket(path: d.dir.path + "/notify.sock")
        try d.start(environment: ["NOTIFY_SOCKET": sock.path, "WATCHDOG_USEC": "400000"])
        var messages: [String] = []
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline && messages.filter({ $0 == "WATCHDOG=1" }).count < 2 {
            if let m = sock.receive(timeoutMs: 200) { messages.append(m) }
        }
        d.signal(SIGHUP)
        while Date() < deadline.addingTimeInterval(5),
            !messages.contains("RELOADING=1") || messages.last?.hasPrefix("READY=1") != true
        {
            if let m = sock.receive(timeoutMs: 200) { messages.append(m) }
        }
        d.signal(SIGTERM)
        while Date() < deadline.addingTimeInterval(10), !messages.contains("STOPPING=1") {
            if let m = sock.receive(timeoutMs: 200) { messages.append(m) }
        }
        #expect(d.stop() == 0)
        let ready = messages.firstIndex { $0.hasPrefix("READY=1") }
        let watchdog = messages.firstIndex { $0 == "WATCHDOG=1" }
        let reloading = messages.firstIndex { $0 == "RELOADING=1" }
        let stopping = messages.firstIndex { $0 == "STOPPING=1" }
        #expect(ready != nil && watchdog != nil && reloading != nil && stopping != nil, "got \(messages)")
        if let ready, let reloading, let stopping {
            #expect(ready < reloading && reloading < stopping, "order: \(messages)")
            #expect(messages[ready].contains("STATUS=1 IOMMU fault this boot"), "\(messages[ready])")
        }
    }
}
