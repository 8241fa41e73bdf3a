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
    func start(environment: [String: String] = [:], arguments: [String] = []) throws -> Process {
        try start(wrappedIn: [], environment: environment, arguments: arguments)
    }

    /// Starts it under a wrapper command (`setpriv …`, `systemd-socket-activate …`) when given.
    @discardableResult
    func start(wrappedIn wrapper: [String], environment: [String: String] = [:], arguments: [String] = []) throws
        -> Process
    {
        let p = Process()
        let command = wrapper + [Binary.path, "run", "--config", configPath, "--foreground"] + arguments
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
