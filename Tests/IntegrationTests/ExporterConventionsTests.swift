import Foundation
import Glibc
import Testing

/// What Prometheus tooling expects of an exporter: node_exporter's flag names on `iommud run`
/// (each beating its TOML key), `/-/healthy` and `/-/ready` (without basic auth), a landing page
/// listing the endpoints. No root needed: kmsg is a file of records.
@Suite("exporter conventions: flags, /-/healthy, /-/ready", .serialized)
struct ExporterConventionsTests {
    init() throws {
        guard Binary.exists else { throw HarnessError("no iommud binary at \(Binary.path)") }
    }

    @Test("run --help lists the node_exporter-style flags")
    func helpListsFlags() throws {
        let (rc, out) = try runCommand(Binary.path, ["run", "--help"])
        #expect(rc == 0)
        for flag in [
            "--web.listen-address", "--web.config.file", "--web.telemetry-path", "--log.level", "--log.format",
        ] {
            #expect(out.contains(flag), "\(flag) missing from run --help:\n\(out)")
        }
        #expect(out.contains("/-/healthy") && out.contains("/-/ready"))
    }

    @Test(
        "a bad flag value is a configuration error: exit 78, one sentence naming the flag",
        arguments: [
            (["--log.format=xml"], "--log.format"),
            (["--log.level", "loud"], "--log.level"),
            (["--web.listen-address", "nowhere"], "--web.listen-address"),
            (["--web.telemetry-path", "/-/ready"], "--web.telemetry-path"),
            (["--web.telemetry-path", "metrics"], "--web.telemetry-path"),
        ])
    func badFlag(_ args: [String], _ flag: String) throws {
        let d = Daemon(kmsg: "/nonexistent/never-opened")
        let (rc, out) = try runCommand(Binary.path, ["run", "--config", d.configPath, "--foreground"] + args)
        #expect(rc == 78, "\(args): \(out)")
        #expect(out.contains(flag), "\(args): \(out)")
        #expect(!out.contains("Fatal error"))
    }

    @Test("--web.listen-address, --web.telemetry-path and --log.level beat the TOML, also after SIGHUP")
    func overridesBeatTheFile() throws {
        let records = try recordFile(faults: 2)
        // The file says: listen on d.port, level debug.
        let d = Daemon(kmsg: records.path)
        let flagPort = freePort()
        try d.start(arguments: [
            "--web.listen-address=127.0.0.1:\(flagPort)", "--web.telemetry-path=/x/metrics", "--log.level=info",
            "--log.format=json",
        ])
        try d.waitReady()
        #expect(httpGet(port: d.port, path: "/metrics") == nil, "the file's listen address must not be bound")
        #expect(httpGet(port: flagPort, path: "/x/metrics")?.0 == 200)
        #expect(httpGet(port: flagPort, path: "/metrics")?.0 == 404)
        let landing = httpGet(port: flagPort, path: "/")?.1 ?? ""
        for p in ["/x/metrics", "/-/healthy", "/-/ready"] { #expect(landing.contains("href=\"\(p)\""), "\(landing)") }
        d.signal(SIGHUP)
        try eventually("the reload is done") { d.log.contains("configuration reloaded") }
        #expect(httpGet(port: d.port, path: "/metrics") == nil, "a reload must keep the flag's address")
        #expect(httpGet(port: flagPort, path: "/x/metrics")?.0 == 200)
        #expect(d.stop() == 0)
        // --log.level=info beat the file's debug (the unknown devices' rescan logs at debug);
        // --log.format=json: every line is one JSON object.
        let lines = d.log.split(separator: "\n")
        #expect(d.log.contains("\"level\":\"info\""), "\(d.log)")
        #expect(!d.log.contains("\"level\":\"debug\""), "\(d.log)")
        for l in lines { #expect(l.hasPrefix("{\"time\":\"") && l.hasSuffix("}"), "not a JSON line: \(l)") }
    }

    @Test("--log.format=logfmt: time, level and a quoted msg per line")
    func logfmt() throws {
        let records = try recordFile(faults: 1)
        let d = Daemon(kmsg: records.path)
        try d.start(arguments: ["--log.format=logfmt"])
        try d.waitReady()
        #expect(d.stop() == 0)
        let lines = d.log.split(separator: "\n")
        #expect(lines.contains { $0.contains("level=info msg=\"iommud 0.") }, "\(d.log)")
        for l in lines { #expect(l.hasPrefix("time=") && l.contains(" level=") && l.contains(" msg="), "\(l)") }
    }

    @Test("/-/ready is 503 while the ring-buffer backlog is read and 200 only once all of it is counted")
    func readyAfterBacklog() throws {
        // Enough faults that reading them takes the daemon a good fraction of a second.
        let faults = 300_000
        let records = try recordFile(faults: faults)
        let d = Daemon(kmsg: records.path)
        try d.start(arguments: [])
        var codes: [Int] = []
        var healthyWhileReading = true
        var countedWhenReady = -1.0
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            guard let (code, _) = httpGet(port: d.port, path: "/-/ready") else {
                usleep(2_000)
                continue
            }
            if codes.last != code { codes.append(code) }
            if code == 200 {
                // Ready means the backlog is in the counters: every record, every fault.
                let s = try d.metrics()
                countedWhenReady = s.sum("iommu_faults_total")
                #expect(s.sum("iommud_kmsg_records_total") == Double(faults))
                break
            }
            if httpGet(port: d.port, path: "/-/healthy")?.0 != 200 { healthyWhileReading = false }
            usleep(2_000)
        }
        #expect(codes.first == 503, "the first answer must come before the backlog is read: \(codes)")
        #expect(codes.last == 200, "never became ready: \(codes)\n\(d.log)")
        #expect(codes.filter { $0 != 503 && $0 != 200 }.isEmpty, "\(codes)")
        #expect(countedWhenReady == Double(faults))
        #expect(healthyWhileReading, "/-/healthy must answer 200 while the backlog is read")
        #expect(d.stop() == 0)
    }

    @Test("under basic auth the probes answer without credentials; /metrics and / do not")
    func probesWithoutAuth() throws {
        let dir = TempDir("iommud-probes")
        let password = "pw-\(Int.random(in: 1000..<9999))"
        let hash = try TestPKI.bcrypt(password)
        let web = dir.write("web.yml", "basic_auth_users:\n  alice: \(hash)\n")
        let records = try recordFile(faults: 1)
        let d = Daemon(kmsg: records.path)
        try d.start(arguments: ["--web.config.file=\(web)"])
        try d.waitReady()
        #expect(httpGet(port: d.port, path: "/-/healthy")?.0 == 200)
        #expect(httpGet(port: d.port, path: "/-/ready")?.0 == 200)
        #expect(httpGet(port: d.port, path: "/-/ready?verbose=1")?.0 == 200)
        #expect(httpGet(port: d.port, path: "/metrics")?.0 == 401)
        #expect(httpGet(port: d.port, path: "/")?.0 == 401)
        let curl = Env.which("curl") ?? "/usr/bin/curl"
        let (rc, out) = try runCommand(
            curl,
            [
                "-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", "alice:\(password)",
                "http://127.0.0.1:\(d.port)/metrics",
            ])
        #expect(rc == 0 && out == "200", "with the password: \(rc) \(out)")
        #expect(d.stop() == 0)
    }

    @Test(
        "--web.config.file beats [http] web_config both ways: it adds basic auth, and a file of its own replaces the TOML's"
    )
    func webConfigFlagBeatsTheFile() throws {
        let dir = TempDir("iommud-webflag")
        let hash = try TestPKI.bcrypt("pw-\(Int.random(in: 1000..<9999))")
        let auth = dir.write("auth.yml", "basic_auth_users:\n  alice: \(hash)\n")
        let open = dir.write("open.yml", "# no TLS, no users\n")
        let records = try recordFile(faults: 1)
        // The TOML asks for basic auth; the flag's file has none: /metrics answers without credentials.
        let a = Daemon(kmsg: records.path, httpConfig: "web_config = \"\(auth)\"")
        try a.start(arguments: ["--web.config.file=\(open)"])
        try a.waitReady()
        #expect(httpGet(port: a.port, path: "/metrics")?.0 == 200)
        #expect(a.stop() == 0)
        // The TOML has no web config; the flag's asks for basic auth.
        let b = Daemon(kmsg: records.path)
        try b.start(arguments: ["--web.config.file=\(auth)"])
        try b.waitReady()
        #expect(httpGet(port: b.port, path: "/metrics")?.0 == 401)
        #expect(b.stop() == 0)
    }

    /// A file of kmsg records: `faults` Intel faults (facility 1, as the tests write them) spread
    /// over 8 devices of segment 0x7e57, for a daemon to read as its [sources] kmsg.
    func recordFile(faults: Int) throws -> RecordFileOnDisk {
        let f = RecordFileOnDisk()
        var chunk = ""
        chunk.reserveCapacity(1 << 20)
        for i in 0..<faults {
            chunk +=
                "14,\(i),\(1_000_000 + i),-;DMAR: [DMA Read NO_PASID] Request device [7e57:5e:00.\(i & 7)] fault addr 0x1000 [fault reason 0x06] PTE Read access is not set\n"
            if chunk.utf8.count > 1 << 20 {
                f.handle.write(Data(chunk.utf8))
                chunk.removeAll(keepingCapacity: true)
            }
        }
        f.handle.write(Data(chunk.utf8))
        return f
    }
}

/// A temporary file of kmsg records (removed with its directory).
final class RecordFileOnDisk {
    let dir = TempDir("iommud-records")
    var path: String { dir.path + "/kmsg" }
    let handle: FileHandle

    init() {
        _ = FileManager.default.createFile(atPath: dir.path + "/kmsg", contents: nil)
        handle = FileHandle(forWritingAtPath: dir.path + "/kmsg")!
    }

    deinit { try? handle.close() }
}
