import Foundation
import Glibc
import IOMMUCore
import Testing

/// The CLI's contract: exit codes and one clear sentence, never a stack trace.
@Suite("iommud CLI")
struct CLITests {
    init() throws {
        guard Binary.exists else { throw HarnessError("no iommud binary at \(Binary.path)") }
    }

    @Test("status with no daemon says so and exits 3")
    func statusNoDaemon() throws {
        let dir = TempDir()
        let (rc, out) = try runCommand(Binary.path, ["status", "--socket", dir.path + "/nothing.sock"])
        #expect(rc == 3)
        #expect(out.contains("iommud is not running"))
        #expect(!out.contains("Fatal error"))
        #expect(out.split(separator: "\n").count == 1)
    }

    /// Something else answers on the control socket (`--socket` names any path): a Python
    /// server that sends `reply` and then, with `endless`, 1 MiB chunks until the client leaves.
    /// A server on `path` that answers one request with `reply`, then, `endless`, MiBs without
    /// end, or, `drip`, a byte every half second without end.
    static func impostor(_ path: String, reply: String, endless: Bool, drip: Bool = false) throws -> Process {
        let script = """
            import socket, sys, time
            s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)
            print("ready", flush=True)
            c, _ = s.accept(); c.recv(4096)
            try:
                c.sendall(sys.argv[2].encode())
                while sys.argv[3] == "1": c.sendall(b"x" * (1 << 20))
                while sys.argv[3] == "2": c.sendall(b"x"); time.sleep(0.5)
            except OSError: pass
            c.close()
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = ["-c", script, path, reply, endless ? "1" : drip ? "2" : "0"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        _ = out.fileHandleForReading.availableData  // "ready": the socket listens
        return p
    }

    @Test("status: an answer that is not the daemon's is shown escaped and cut short, and read to a bound")
    func statusImpostor() throws {
        let dir = TempDir()
        let sock = dir.path + "/impostor.sock"
        let evil = try Self.impostor(
            sock, reply: "HTTP/1.0 500 x\r\n\r\n\u{1b}[31mred\u{1b}]0;title\u{07}", endless: false)
        defer { evil.terminate() }
        let (rc, out) = try runCommand(Binary.path, ["status", "--socket", sock])
        #expect(rc == 3 && out.contains("not understood"))
        #expect(!out.contains("\u{1b}") && !out.contains("\u{07}") && out.contains("\\x1b[31mred"))
        evil.waitUntilExit()

        try? FileManager.default.removeItem(atPath: sock)
        let flood = try Self.impostor(sock, reply: "HTTP/1.0 200 OK\r\n\r\n", endless: true)
        defer { flood.terminate() }
        let (rc2, out2) = try runCommand(Binary.path, ["status", "--socket", sock])
        #expect(rc2 == 3 && out2.contains("goes on past 512 MiB"))
    }

    @Test("status: a peer that sends a byte now and then is given up on after the timeout", .timeLimit(.minutes(1)))
    func statusDrip() throws {
        let dir = TempDir()
        let sock = dir.path + "/drip.sock"
        let drip = try Self.impostor(sock, reply: "HTTP/1.0 200 OK\r\n\r\n", endless: false, drip: true)
        defer { drip.terminate() }
        let (rc, out) = try runCommand(Binary.path, ["status", "--socket", sock])
        #expect(rc == 3 && out.contains("no whole answer within 10 s"), "\(out)")
    }

    @Test(
        "config errors name file, line and key, and exit 78",
        arguments: [
            ("[http]\nlisten = [\"127.0.0.1:10111\"]\nlisen = 3\n", 3, "unknown key 'http.lisen'"),
            ("[sources]\naccept_user_facility = \"yes\"\n", 2, "'sources.accept_user_facility' must be true or false"),
            ("[http]\nlisten = [\"127.0.0.1:99999\"]\n", 2, "port must be a number from 1 to 65535"),
            ("[http]\nlisten = [\"::1:10111\"]\n", 2, "write IPv6 addresses in brackets"),
            ("[state]\ncheckpoint_interval = \"soon\"\n", 2, "is not a duration"),
            ("[nonsense]\nx = 1\n", 1, "unknown section [nonsense]"),
            ("[log]\nlevel = \"loud\"\n", 2, "bad value for 'log.level'"),
            ("[control]\nsocket = \"relative.sock\"\n", 2, "must be an absolute path"),
            ("[http\nlisten = 3\n", 1, "TOML syntax error"),
            // Out of range: these used to pass check-config and then trap in `run` (SIGILL).
            ("[storm]\nwindow = \"250000000d\"\n", 2, "'storm.window' must be from 1s to 1d"),
            ("[topology]\nrescan_interval = \"110000d\"\n", 2, "'topology.rescan_interval' must be from 10s to 1d"),
            ("[storm]\nthreshold = 9223372036854775807\n", 2, "'storm.threshold' must be from 1 to 10000"),
            ("[actions]\nmax_concurrent = 0\n", 2, "'actions.max_concurrent' must be from 1 to 64"),
            // Nested 100 000 deep: check-config used to overflow the stack.
            ("x = " + String(repeating: "[", count: 100_000) + "\n", 1, "nested deeper than 32 levels"),
        ])
    func badConfig(_ text: String, _ line: Int, _ message: String) throws {
        let dir = TempDir()
        let file = dir.write("bad.toml", text)
        for args in [["check-config", file], ["run", "--config", file, "--foreground"]] {
            let (rc, out) = try runCommand(Binary.path, args)
            #expect(rc == 78, "\(args[0]): \(out)")
            #expect(out.contains("\(file):\(line):"), "\(args[0]) should name \(file):\(line): \(out)")
            #expect(out.contains(message), "\(args[0]): \(out)")
        }
    }

    @Test("an unreadable config file is a config error")
    func unreadable() throws {
        let (rc, out) = try runCommand(Binary.path, ["check-config", "/nonexistent/iommud.toml"])
        #expect(rc == 78)
        #expect(out.contains("/nonexistent/iommud.toml: cannot read the config file"))
    }

    @Test("check-config prints the effective configuration of the shipped file")
    func shippedConfig() throws {
        let (rc, out) = try runCommand(Binary.path, ["check-config", Binary.packageRoot + "/config/iommud.toml"])
        #expect(rc == 0, "\(out)")
        #expect(out.contains("kmsg = \"/dev/kmsg\""))
        #expect(out.contains("listen = [\"[::]:10111\"]"))
    }

    @Test("replay of a real capture, and exit 1 when nothing can be read")
    func replay() throws {
        let capture = """
            3,372,5442337,-;DMAR: DRHD: handling fault status reg 2
            3,373,5443162,-;DMAR: [DMA Read NO_PASID] Request device [00:01.0] fault addr 0x1000 [fault reason 0x06] PTE Read access is not set
            3,375,5579380,-;DMAR: [DMA Write NO_PASID] Request device [00:01.0] fault addr 0xdead0000 [fault reason 0x05] PTE Write access is not set

            """
        let (rc, out) = try runCommand(Binary.path, ["replay", "--json", "-"], stdin: capture)
        #expect(rc == 0)
        let lines = out.split(separator: "\n").filter { $0.hasPrefix("{") }
        #expect(lines.count == 2)
        #expect(lines.first?.contains("\"kind\":\"dma-read\"") == true)
        let (rc2, out2) = try runCommand(Binary.path, ["replay", "/nonexistent/file"])
        #expect(rc2 == 1)
        #expect(out2.contains("cannot read /nonexistent/file"))
    }

    @Test(
        "replay's Intel estimate follows the ratelimit model of the log's kernel (--intel-ratelimit, --kernel-release)")
    func replayIntelRatelimit() throws {
        // A QEMU storm trace (6.1): the kmsg records only, without the interrupt samples.
        let trace = try String(
            contentsOfFile: Binary.packageRoot + "/Tests/IOMMUCoreTests/Fixtures/estimate/storm-flush.txt",
            encoding: .utf8)
        let kmsg = trace.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.hasPrefix("@") }.joined(
            separator: "\n")
        func estimate(_ args: [String]) throws -> String {
            let (rc, out) = try runCommand(Binary.path, ["replay"] + args + ["-"], stdin: kmsg + "\n")
            #expect(rc == 0, "\(out)")
            let lines = out.split(separator: "\n", omittingEmptySubsequences: false)
            guard let i = lines.firstIndex(where: { $0.hasPrefix("Intel fault records behind") }), i + 1 < lines.count
            else { return "no estimate in: \(out)" }
            return String(lines[i + 1])
        }
        // 27 bad DMAs in the guest: without interrupt counts the log alone bounds them, and the
        // value (one record per interrupt) is the truth.
        let perCall = try estimate([])
        #expect(perCall.contains("about 27 (at least 27, at most 57)"), "\(perCall)")
        #expect(try estimate(["--intel-ratelimit", "per-call"]) == perCall)
        #expect(try estimate(["--kernel-release", "6.1.0-18-amd64"]) == perCall)
        // v4.7–v4.18: N counts interrupts, each of which may have drained several records.
        let perInterrupt = try estimate(["--intel-ratelimit", "per-interrupt"])
        #expect(perInterrupt != perCall, "\(perInterrupt)")
        #expect(try estimate(["--kernel-release", "4.9.0-19-amd64"]) == perInterrupt)
        // The named model wins over the release.
        #expect(try estimate(["--kernel-release", "4.9.0", "--intel-ratelimit", "per-call"]) == perCall)
        let (rc, out) = try runCommand(Binary.path, ["replay", "--intel-ratelimit", "sometimes", "-"], stdin: "")
        #expect(rc == 64)
        #expect(out.contains("unknown --intel-ratelimit 'sometimes'"), "\(out)")
    }

    @Test("replay reads records across its 1 MiB reads, and a record longer than them")
    func replayLongInput() throws {
        let fault = { (bus: Int, seq: Int) in
            "3,\(seq),\(seq * 10),-;DMAR: [DMA Read NO_PASID] Request device [\(String(format: "%02x", bus)):00.0] fault addr 0x1000 [fault reason 0x06] PTE Read access is not set\n"
        }
        var input = ""
        var seq = 0
        // 3 MiB of noise records with a fault every 1000: the reads end mid-record.
        while input.utf8.count < 3 << 20 {
            input +=
                seq % 1000 == 999 ? fault(seq / 1000 % 256, seq) : "6,\(seq),\(seq * 10),-;usb 1-1: new device \(seq)\n"
            seq += 1
        }
        // One record of 2.5 MiB: more than a read holds.
        input += "6,\(seq),\(seq * 10),-;" + String(repeating: "x", count: 5 << 19) + "\n"
        input += fault(0xee, seq + 1)
        let dir = TempDir()
        let path = dir.write("long.kmsg", input)
        let expected = seq / 1000 + 1
        let (rc, out) = try runCommand(Binary.path, ["replay", "--json", path])
        #expect(rc == 0)
        let lines = out.split(separator: "\n").filter { $0.hasPrefix("{") }
        #expect(lines.count == expected, "every fault once")
        #expect(lines.last?.contains("\"device\":\"0000:ee:00.0\"") == true, "the fault after the long record")
    }

    @Test("a missing kmsg source exits 69 with the reason")
    func missingSource() throws {
        let d = Daemon(kmsg: "/nonexistent/kmsg")
        try d.start()
        d.process!.waitUntilExit()
        #expect(d.process!.terminationStatus == 69)
        #expect(d.log.contains("/nonexistent/kmsg does not exist"))
    }

    @Test("an unusable state directory exits 74")
    func badStateDirectory() throws {
        let dir = TempDir()
        let file = dir.write("notadir", "x")
        let d = Daemon(extraConfig: "")
        try d.editConfig {
            $0.replacingOccurrences(of: "directory = \"\(d.dir.path)/state\"", with: "directory = \"\(file)/state\"")
        }
        try d.start()
        d.process!.waitUntilExit()
        #expect(d.process!.terminationStatus == 74)
        #expect(d.log.contains("state directory"))
    }
}
