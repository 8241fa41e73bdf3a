import CLinux
import Foundation
import Glibc
import IOMMUCore
import IOMMUDaemon
import Testing

/// The real daemon binary under test: $IOMMUD_BIN (make test passes the release build), else
/// the debug build beside the package.
enum Binary {
    static let packageRoot: String = {
        var p = #filePath
        for _ in 0..<3 { p = String(p[..<p.lastIndex(of: "/")!]) }
        return p
    }()

    static var path: String {
        if let p = ProcessInfo.processInfo.environment["IOMMUD_BIN"], !p.isEmpty { return p }
        return packageRoot + "/.build/debug/iommud"
    }

    static var exists: Bool { access(path, X_OK) == 0 }
}

enum Env {
    /// Writing fault lines into /dev/kmsg needs root (CI runs as root).
    static var canInject: Bool { getuid() == 0 && access("/dev/kmsg", W_OK) == 0 }

    static func which(_ tool: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let p = "\(dir)/\(tool)"
            if access(p, X_OK) == 0 { return p }
        }
        return nil
    }
}

/// A scratch directory removed at the end of the test.
final class TempDir {
    let path: String

    init(_ prefix: String = "iommud-test") {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }

    deinit { _ = try? FileManager.default.removeItem(atPath: path) }

    func write(_ name: String, _ text: String) -> String {
        let p = path + "/" + name
        _ = FileManager.default.createFile(atPath: p, contents: Data(text.utf8))
        return p
    }
}

/// Picks a free loopback TCP port.
func freePort() -> Int {
    for _ in 0..<50 {
        let port = Int.random(in: 20000..<60000)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if ok == 0 { return port }
    }
    return 10_999
}

/// One HTTP GET over loopback TCP; (status, body).
func httpGet(port: Int, path: String) -> (Int, String)? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard rc == 0 else { return nil }
    let req = "GET \(path) HTTP/1.0\r\nHost: localhost\r\n\r\n"
    _ = req.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
    var data = [UInt8]()
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { break }
        data.append(contentsOf: buf[0..<n])
    }
    let text = String(decoding: data, as: UTF8.self)
    guard let sep = text.range(of: "\r\n\r\n") else { return nil }
    let status = Int(text.split(separator: " ").dropFirst().first ?? "") ?? 0
    return (status, String(text[sep.upperBound...]))
}

/// Writes lines into the kernel log the way the tests must: one open per line (the kernel
/// ratelimits 10 writes per 5 s per open file) and level 6 (levels 0–3 also go to the slow
/// serial console). They arrive as facility 1, which only the test switch counts.
enum Kmsg {
    static func inject(_ line: String) {
        let fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC)
        precondition(fd >= 0, "cannot open /dev/kmsg for writing")
        defer { close(fd) }
        let record = "<14>" + line + "\n"
        _ = record.withCString { write(fd, $0, strlen($0)) }
    }

    /// The kernel ring buffer size (klogctl(10)), for pacing.
    static var ringSize: Int { Int(clinux_klog_buffer_size()) }

    /// A device bus nothing in the ring buffer mentions yet (it keeps old records of earlier
    /// runs and of other tests on this machine).
    static func uniqueBus() -> UInt8 {
        let ring = currentRecords()
        let used = Set(
            ring.split(separator: "\n").compactMap { line -> UInt8? in
                guard let r = line.range(of: "Request device [") else { return nil }
                var rest = line[r.upperBound...]
                if rest.hasPrefix("0x") { rest = rest.dropFirst(2) }
                let parts = rest.split(separator: ":")
                // [bb:dd.f] or [ssss:bb:dd.f]
                let bus = parts.count >= 3 ? parts[1] : parts.first ?? ""
                return UInt8(bus.prefix(2), radix: 16)
            })
        for _ in 0..<1000 {
            let b = UInt8.random(in: 0x20...0xef)
            if !used.contains(b) && !ring.contains(String(b, radix: 16).leftPad(2) + ":") { return b }
        }
        return UInt8.random(in: 0x20...0xef)
    }

    /// Every record in the ring buffer now (a non-blocking read from the oldest).
    static func currentRecords() -> String {
        let fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        var out = ""
        var buf = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                out += String(decoding: buf[0..<n], as: UTF8.self)
                continue
            }
            if n < 0 && errno == EPIPE { continue }
            break
        }
        return out
    }
}

/// Parsed Prometheus text exposition.
struct Scrape {
    struct Sample {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    var samples: [Sample] = []
    let text: String

    init(_ text: String) {
        self.text = text
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            var name = ""
            var labels: [String: String] = [:]
            var rest = Substring(line)
            if let brace = line.firstIndex(of: "{") {
                name = String(line[..<brace])
                let close = line.lastIndex(of: "}")!
                var body = line[line.index(after: brace)..<close]
                while let eq = body.firstIndex(of: "=") {
                    let key = String(body[..<eq]).trimmingCharacters(in: CharacterSet(charactersIn: ", "))
                    var i = body.index(eq, offsetBy: 2)
                    var value = ""
                    while i < body.endIndex && body[i] != "\"" {
                        if body[i] == "\\" { i = body.index(after: i) }
                        value.append(body[i])
                        i = body.index(after: i)
                    }
                    labels[key] = value
                    body = i < body.endIndex ? body[body.index(after: i)...] : ""
                }
                rest = line[line.index(after: close)...]
            } else {
                let parts = line.split(separator: " ")
                name = String(parts[0])
                rest = parts.count > 1 ? parts[1] : ""
            }
            let value = Double(rest.trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "") ?? .nan
            samples.append(Sample(name: name, labels: labels, value: value))
        }
    }

    func sum(_ name: String, where match: [String: String] = [:]) -> Double {
        samples.filter { s in s.name == name && match.allSatisfy { s.labels[$0.key] == $0.value } }.reduce(0) {
            $0 + $1.value
        }
    }

    func series(_ name: String) -> [Sample] { samples.filter { $0.name == name } }
}

/// The daemon under test, with its own config, state, sockets and log.
final class Daemon {
    let dir: TempDir
    let configPath: String
    var port: Int
    let controlSocket: String
    var process: Process?
    let logPath: String
    /// CLOCK_REALTIME in µs just before the current process was started.
    private(set) var startedRealtime: Int64 = 0

    /// `httpConfig`: more keys for the `[http]` section (e.g. `web_config = "…"`).
    init(
        kmsg: String = "/dev/kmsg", extraConfig: String = "", checkpointInterval: String = "200ms",
        httpConfig: String = ""
    ) {
        dir = TempDir()
        port = freePort()
        controlSocket = dir.path + "/control.sock"
        logPath = dir.path + "/daemon.log"
        configPath = dir.write(
            "iommud.toml",
            """
            [sources]
            kmsg = "\(kmsg)"
            accept_user_facility = true
            [http]
            listen = ["127.0.0.1:\(port)"]
            \(httpConfig)
            [control]
            socket = "\(controlSocket)"
            [state]
            directory = "\(dir.path)/state"
            checkpoint_interval = "\(checkpointInterval)"
            [log]
            level = "debug"
            \(extraConfig)
            """)
    }

    @discardableResult
    func start(environment: [String: String] = [:]) throws -> Process {
        try start(wrappedIn: [], environment: environment)
    }

    /// Starts it under a wrapper command (`setpriv …`, `systemd-socket-activate …`) when given.
    @discardableResult
    func start(wrappedIn wrapper: [String], environment: [String: String] = [:]) throws -> Process {
        let p = Process()
        let command = wrapper + [Binary.path, "run", "--config", configPath, "--foreground"]
        p.executableURL = URL(fileURLWithPath: command[0])
        p.arguments = Array(command.dropFirst())
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "NOTIFY_SOCKET")
        env.removeValue(forKey: "LISTEN_FDS")
        for (k, v) in environment { env[k] = v }
        p.environment = env
        if !FileManager.default.fileExists(atPath: logPath) {
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        let log = FileHandle(forWritingAtPath: logPath)!
        log.seekToEndOfFile()
        p.standardOutput = log
        p.standardError = log
        startedRealtime = realtimeMicros()
        try p.run()
        process = p
        return p
    }

    /// Waits until the daemon has read the ring-buffer backlog (status says ready).
    func waitReady(timeout: Double = 20) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let s = try? status(), case .object(let o) = s, case .object(let d)? = o["daemon"],
                d["ready"] == .bool(true)
            {
                return
            }
            if let p = process, !p.isRunning {
                throw HarnessError("the daemon exited with \(p.terminationStatus):\n\(log)")
            }
            usleep(20_000)
        }
        throw HarnessError("the daemon did not become ready in \(timeout) s:\n\(log)")
    }

    /// `iommud status --json`, through the CLI and the control socket, as a user would ask.
    func status() throws -> MiniJSON {
        let (code, out) = try runCommand(Binary.path, ["status", "--json", "--socket", controlSocket])
        guard code == 0 else { throw HarnessError("status failed (\(code)): \(out)") }
        guard let j = MiniJSON.parse(out.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw HarnessError("status is not JSON: \(out)")
        }
        return j
    }

    func metrics() throws -> Scrape {
        guard let (code, body) = httpGet(port: port, path: "/metrics"), code == 200 else {
            throw HarnessError("GET /metrics failed:\n\(log)")
        }
        return Scrape(body)
    }

    /// Polls until `condition` holds on a scrape (faults appear within milliseconds; the loop
    /// only bounds how long a failing test waits).
    func waitFor(_ what: String, timeout: Double = 10, _ condition: (Scrape) -> Bool) throws -> Scrape {
        let deadline = Date().addingTimeInterval(timeout)
        var last: Scrape?
        while Date() < deadline {
            if let s = try? metrics() {
                last = s
                if condition(s) { return s }
            }
            usleep(20_000)
        }
        throw HarnessError(
            "timed out waiting for \(what); last scrape:\n\(last?.text.split(separator: "\n").filter { $0.hasPrefix("iommu") }.joined(separator: "\n") ?? "none")\nlog:\n\(log)"
        )
    }

    func signal(_ sig: Int32) {
        guard let p = process, p.isRunning else { return }
        kill(p.processIdentifier, sig)
    }

    /// Stops it and returns the exit status.
    @discardableResult
    func stop(_ sig: Int32 = SIGTERM) -> Int32 {
        guard let p = process else { return -1 }
        if p.isRunning { kill(p.processIdentifier, sig) }
        p.waitUntilExit()
        process = nil
        return p.terminationStatus
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    deinit {
        if let p = process, p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Runs a command to completion; (exit status, stdout+stderr).
func runCommand(_ path: String, _ args: [String], stdin: String? = nil, environment: [String: String]? = nil) throws
    -> (Int32, String)
{
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    if let environment { p.environment = environment }
    let out = Pipe()
    p.standardOutput = out
    p.standardError = out
    let input = Pipe()
    p.standardInput = input
    try p.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try? input.fileHandleForWriting.close()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// An Intel 5.15+ fault line for a device.
func intelFault(bus: UInt8, device: Int, function: Int, write: Bool, address: UInt64) -> String {
    let b = String(bus, radix: 16).leftPad(2)
    let d = String(device, radix: 16).leftPad(2)
    return
        "DMAR: [DMA \(write ? "Write" : "Read") NO_PASID] Request device [\(b):\(d).\(function)] fault addr 0x\(String(address, radix: 16)) [fault reason \(write ? "0x05" : "0x06")] PTE \(write ? "Write" : "Read") access is not set"
}

extension String {
    func leftPad(_ n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
}

/// Polls `ok` up to `times` times, `everyUs` apart; whether it came true.
@discardableResult
func retry(_ times: Int = 100, everyUs: UInt32 = 20_000, _ ok: () -> Bool) -> Bool {
    for _ in 0..<times {
        if ok() { return true }
        usleep(everyUs)
    }
    return false
}

/// Polls `condition` until it holds (errors count as not yet), or throws after `timeout` s.
func eventually(_ what: String, timeout: Double = 10, _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if (try? condition()) == true { return }
        usleep(200_000)
    }
    throw HarnessError("timed out waiting until \(what)")
}

func readFile(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

/// Writes a sysctl through /proc (one write(2) of the value and a newline, as `echo` does).
func writeProc(_ path: String, _ value: String) {
    let fd = open(path, O_WRONLY)
    guard fd >= 0 else { return }
    defer { close(fd) }
    let v = value + "\n"
    _ = v.withCString { write(fd, $0, strlen($0)) }
}

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
