import Foundation
import Glibc
import IOMMUCore
import IOMMUDaemon
import Testing

/// Every test that touches the real /dev/kmsg lives in this one serialized suite: the ring
/// buffer is shared by everything on the machine. Tests inject at level 6, one open per line,
/// with a device bus unique to the run, never assume an empty ring buffer, and never write
/// anywhere near its size.
@Suite(
    "Real /dev/kmsg", .serialized,
    .enabled(if: Env.canInject, "needs root to write /dev/kmsg (make test runs as root in CI)"))
struct KmsgSuite {
    init() throws {
        guard Binary.exists else {
            throw HarnessError(
                "no iommud binary at \(Binary.path): build it first (make test builds the release binary)")
        }
    }

    /// Faults written before the daemon starts are read from the ring buffer, faults written
    /// while it runs arrive live, and a restart counts none of them twice.
    @Test("the ring-buffer backlog and live faults, each counted exactly once", .timeLimit(.minutes(2)))
    func backlogAndLive() throws {
        let bus = Kmsg.uniqueBus()
        let dev = "0000:\(String(bus, radix: 16).leftPad(2))"
        // Before the daemon runs: 2 reads on 01.0, 1 write on 02.0.
        Kmsg.inject(intelFault(bus: bus, device: 1, function: 0, write: false, address: 0x1000))
        Kmsg.inject(intelFault(bus: bus, device: 1, function: 0, write: false, address: 0x2000))
        Kmsg.inject(intelFault(bus: bus, device: 2, function: 0, write: true, address: 0xdead0000))
        let d = Daemon()
        try d.start()
        try d.waitReady()
        // While it runs: 1 more read on 01.0, 2 writes on 03.1.
        Kmsg.inject(intelFault(bus: bus, device: 1, function: 0, write: false, address: 0x3000))
        Kmsg.inject(intelFault(bus: bus, device: 3, function: 1, write: true, address: 0x4000))
        Kmsg.inject(intelFault(bus: bus, device: 3, function: 1, write: true, address: 0x5000))
        let expected: [(String, String, Double)] = [
            ("\(dev):01.0", "dma-read", 3), ("\(dev):02.0", "dma-write", 1), ("\(dev):03.1", "dma-write", 2),
        ]
        func check(_ s: Scrape) -> Bool {
            expected.allSatisfy { s.sum("iommu_faults_total", where: ["device": $0.0, "kind": $0.1]) == $0.2 }
        }
        var scrape = try d.waitFor("the 6 injected faults", check)
        // Exactly these series for this bus, with the contract's labels.
        let ours = scrape.series("iommu_faults_total").filter { $0.labels["device"]!.hasPrefix(dev) }
        #expect(ours.count == 3)
        for s in ours {
            #expect(s.labels["vendor"] == "intel")
            #expect(s.labels["recoverable"] == "false")
            #expect(s.labels["unit"] == "unknown")  // this host has no IOMMU: nothing to attribute to
            #expect(s.labels["reason"] == (s.labels["kind"] == "dma-read" ? "0x06" : "0x05"))
        }
        // status --json says the same, per device and kind.
        let status = try d.status()
        for (device, kind, n) in expected {
            let entry = status.devices.first { $0["device"] == .string(device) }
            #expect(entry?["faults"] == .number(n), "status for \(device)")
            if case .object(let byKind)? = entry?["by_kind"] {
                #expect(byKind[kind] == .number(n))
            } else {
                Issue.record("no by_kind for \(device)")
            }
        }
        // The CLI answers too, as a table a person reads.
        let (rc, text) = try runCommand(Binary.path, ["status", "--socket", d.controlSocket])
        #expect(rc == 0)
        #expect(text.contains("\(dev):01.0"))
        #expect(text.contains("Devices with faults"))

        // A clean restart re-reads nothing it already counted.
        #expect(d.stop() == 0)
        try d.start()
        try d.waitReady()
        Kmsg.inject(intelFault(bus: bus, device: 2, function: 0, write: true, address: 0x6000))
        scrape = try d.waitFor("the 7th fault after the restart") {
            $0.sum("iommu_faults_total", where: ["device": "\(dev):02.0"]) == 2
        }
        #expect(scrape.sum("iommu_faults_total", where: ["device": "\(dev):01.0"]) == 3)
        #expect(scrape.sum("iommu_faults_total", where: ["device": "\(dev):03.1"]) == 2)
        #expect(scrape.sum("iommud_kmsg_lost_records_total") == 0 || scrape.sum("iommud_kmsg_lost_records_total") > 0)
        #expect(d.stop() == 0)
    }

    /// `promtool check metrics` prints nothing for a real scrape (HELP and TYPE on every family,
    /// counter names end in _total).
    @Test(
        "promtool accepts the /metrics output",
        .enabled(if: Env.which("promtool") != nil, "promtool not installed (make test installs the prometheus package)")
    )
    func promtool() throws {
        let bus = Kmsg.uniqueBus()
        let d = Daemon()
        try d.start()
        try d.waitReady()
        Kmsg.inject(intelFault(bus: bus, device: 4, function: 0, write: true, address: 0x7000))
        Kmsg.inject("dmar_fault: 3 callbacks suppressed")
        let s = try d.waitFor("a fault in the scrape") {
            $0.sum("iommu_faults_total", where: ["device": "0000:\(String(bus, radix: 16).leftPad(2)):04.0"]) == 1
        }
        let file = d.dir.write("metrics.prom", s.text)
        let (rc, out) = try runCommand("/bin/sh", ["-c", "promtool check metrics < \(file)"])
        #expect(rc == 0, "promtool: \(out)")
        #expect(out.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "promtool printed: \(out)")
        for family in [
            "iommu_faults_total", "iommu_unit_faults_total", "iommu_faults_suppressed_total",
            "iommud_kmsg_records_total",
            "iommud_kmsg_lost_records_total", "iommud_build_info", "process_resident_memory_bytes", "iommu_enabled",
            "iommu_mode_info", "iommud_kmsg_last_seq",
        ] {
            #expect(s.text.contains("# TYPE \(family) "), "missing family \(family)")
            #expect(s.text.contains("# HELP \(family) "), "missing help for \(family)")
        }
        d.stop()
    }
}

extension KmsgSuite {
    /// SIGKILL on the real /dev/kmsg between faults: paced so that what is written while the
    /// daemon is down stays far below a quarter of the ring buffer.
    @Test("SIGKILL between faults on the real /dev/kmsg: exact counts", .timeLimit(.minutes(2)))
    func sigkillRealKmsg() throws {
        let bus = Kmsg.uniqueBus()
        let dev = "0000:\(String(bus, radix: 16).leftPad(2))"
        let d = Daemon(checkpointInterval: "100ms")
        try d.start()
        try d.waitReady()
        var truth: [String: Double] = [:]
        // ~250 B per record in the ring; 12 records per cycle is ~3 KiB, far below ring/4.
        #expect(12 * 250 < Kmsg.ringSize / 4)
        for cycle in 0..<10 {
            for i in 0..<12 {
                let device = (cycle + i) % 3
                Kmsg.inject(
                    intelFault(
                        bus: bus, device: device, function: 5, write: i % 2 == 0, address: 0x1000 + UInt64(i) << 12))
                truth["\(dev):\(String(device, radix: 16).leftPad(2)).5", default: 0] += 1
                if i == 6 {
                    usleep(UInt32.random(in: 0...120_000))
                    d.stop(SIGKILL)
                    try d.start()
                    try d.waitReady()
                }
            }
        }
        let scrape = try d.waitFor("all 120 faults") { s in
            truth.allSatisfy { s.sum("iommu_faults_total", where: ["device": $0.key]) == $0.value }
        }
        let ours = scrape.series("iommu_faults_total").filter { $0.labels["device"]!.hasPrefix(dev) }
        #expect(ours.reduce(0) { $0 + $1.value } == 120)
        #expect(d.stop() == 0)
    }

    /// dmesg_restrict=1 without CAP_SYSLOG: one sentence naming the cause and the fix, exit 77.
    @Test(
        "no permission on /dev/kmsg: exit 77 with the cause and the fix",
        .enabled(if: Env.which("setpriv") != nil, "setpriv (util-linux) missing"))
    func noPermission() throws {
        let restrict = readFile("/proc/sys/kernel/dmesg_restrict").trimmingCharacters(in: .whitespacesAndNewlines)
        let d = Daemon()
        // nobody must be able to create the state directory and the control socket.
        chmod(d.dir.path, 0o777)
        if restrict != "1" { writeProc("/proc/sys/kernel/dmesg_restrict", "1") }
        defer { if restrict != "1" { writeProc("/proc/sys/kernel/dmesg_restrict", restrict) } }
        let (rc, out) = try runCommand(
            Env.which("setpriv")!,
            [
                "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", Binary.path, "run", "--config",
                d.configPath, "--foreground",
            ])
        #expect(rc == 77, "\(out)")
        #expect(out.contains("dmesg_restrict=1"), "\(out)")
        #expect(out.contains("CAP_SYSLOG"), "\(out)")
    }

    /// printk.devkmsg=off makes every open fail with EPERM, readers included: exit 77, and the
    /// message says why iommud does not fall back to syslog(2). The sysctl is restored at once.
    @Test("printk_devkmsg=off: exit 77, no syslog(2) fallback")
    func devkmsgOff() throws {
        let path = "/proc/sys/kernel/printk_devkmsg"
        let before = readFile(path).trimmingCharacters(in: .whitespacesAndNewlines)
        let d = Daemon()
        writeProc(path, "off")
        let result = try? runCommand(Binary.path, ["run", "--config", d.configPath, "--foreground"])
        writeProc(path, before)
        #expect(readFile(path).trimmingCharacters(in: .whitespacesAndNewlines) == before)
        let (rc, out) = try #require(result)
        #expect(rc == 77, "\(out)")
        #expect(out.contains("printk.devkmsg=off"), "\(out)")
        #expect(out.contains("syslog(2)"), "\(out)")
    }
}

extension MiniJSON {
    subscript(key: String) -> MiniJSON? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    var devices: [MiniJSON] {
        if case .array(let a)? = self["devices"] { return a }
        return []
    }
}
