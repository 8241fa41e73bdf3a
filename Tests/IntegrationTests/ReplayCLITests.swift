import Foundation
import Glibc
import Testing

/// `iommud replay` as a user runs it: rotated logs compressed by gzip and zstd (made here with the
/// tools, `scripts/install-deps.sh test` installs them), damaged ones, `--fail-on` as a CI gate
/// both ways, and the progress line, which only a terminal ever sees.
@Suite("iommud replay CLI")
struct ReplayCLITests {
    init() throws {
        guard Binary.exists else { throw HarnessError("no iommud binary at \(Binary.path)") }
    }

    static let kernLog = Binary.packageRoot + "/Tests/IOMMUCoreTests/Fixtures/shapes/kern.log"

    /// stdout only (the summary goes to stderr with --json), and the exit code.
    static func replay(_ args: [String], stdin file: String? = nil) throws -> (Int32, String) {
        let redirect = file.map { " < \"\($0)\"" } ?? ""
        return try runCommand(
            "/bin/sh", ["-c", "exec \"$0\" replay \"$@\" 2>/dev/null" + redirect, Binary.path] + args)
    }

    static func tool(_ name: String) -> String? {
        ["/usr/bin/", "/bin/"].map { $0 + name }.first { access($0, X_OK) == 0 }
    }

    @Test("kern.log.2.gz and .zst give the plain file's --json, from a file or stdin")
    func compressed() throws {
        let gzip = try #require(Self.tool("gzip"), "gzip is not installed (scripts/install-deps.sh test)")
        let zstd = try #require(Self.tool("zstd"), "zstd is not installed (scripts/install-deps.sh test)")
        let dir = TempDir()
        let plain = dir.path + "/kern.log.2"
        _ = try runCommand("/bin/cp", [Self.kernLog, plain])
        let (rc, want) = try Self.replay(["--json", plain])
        #expect(rc == 0 && want.split(separator: "\n").count == 11)
        _ = try runCommand(gzip, ["-k", plain])
        _ = try runCommand(zstd, ["-q", plain, "-o", dir.path + "/messages-20261201.zst"])
        // A name that says nothing: the bytes decide.
        _ = try runCommand("/bin/cp", [plain + ".gz", dir.path + "/renamed"])
        for f in [plain + ".gz", dir.path + "/messages-20261201.zst", dir.path + "/renamed"] {
            let (rc, got) = try Self.replay(["--json", f])
            #expect(rc == 0, "\(f)")
            #expect(got == want, "\(f)")
            let (rc2, piped) = try Self.replay(["--json", "-"], stdin: f)
            #expect(rc2 == 0 && piped == want, "\(f) on stdin")
        }
    }

    @Test("a truncated or corrupt compressed file: one clear sentence, exit 1, what was read counts")
    func damaged() throws {
        let gzip = try #require(Self.tool("gzip"))
        let zstd = try #require(Self.tool("zstd"))
        let dir = TempDir()
        let plain = dir.path + "/kern.log"
        _ = try runCommand("/bin/cp", [Self.kernLog, plain])
        _ = try runCommand(gzip, ["-k", plain])
        _ = try runCommand(zstd, ["-q", plain])
        for ext in ["gz", "zst"] {
            let whole = try Data(contentsOf: URL(fileURLWithPath: plain + "." + ext))
            let cut = dir.path + "/cut." + ext
            try whole.prefix(whole.count * 2 / 3).write(to: URL(fileURLWithPath: cut))
            var bytes = [UInt8](whole)
            for i in stride(from: 24, to: bytes.count - 8, by: 61) { bytes[i] ^= 0xa5 }
            let bad = dir.path + "/bad." + ext
            try Data(bytes).write(to: URL(fileURLWithPath: bad))
            for (file, says) in [(cut, "ends early"), (bad, "corrupt")] {
                let (rc, out) = try runCommand(Binary.path, ["replay", file])
                #expect(rc == 1, "\(file): \(out)")
                #expect(out.contains("iommud replay: \(file): "), "\(file): \(out)")
                #expect(out.contains(says) || out.contains("corrupt"), "\(file): \(out)")
                #expect(!out.contains("Fatal error") && !out.contains("Stack dump"), "\(file)")
                #expect(out.contains("Unparsed IOMMU lines"), "the summary of what was read: \(out)")
            }
        }
        let xz = dir.path + "/log.xz"
        try Data([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x20]).write(to: URL(fileURLWithPath: xz))
        let (rc, out) = try runCommand(Binary.path, ["replay", xz])
        #expect(rc == 1 && out.contains("xz-compressed input is not read"), "\(out)")
    }

    static let pri = """
        6,1,700000000,-;arm-smmu-v3 arm-smmu-v3.0.auto: unexpected PRI request received:
        6,2,700000184,-;arm-smmu-v3 arm-smmu-v3.0.auto: \\x09sid 0x00000100.0x00001: [0L] unprivileged R access at iova 0x00007f0000001000

        """

    @Test(
        "--fail-on exits 2 for the faults it names, 0 otherwise",
        arguments: [
            ("recoverable only", Self.pri, "non-recoverable", Int32(0)),
            ("recoverable only", Self.pri, "any", 2),
            (
                "non-recoverable",
                "3,1,1,-;" + intelFault(bus: 3, device: 0, function: 0, write: true, address: 0x1000) + "\n",
                "non-recoverable", 2
            ),
            ("no faults", "6,1,1,-;usb 1-1: new high-speed USB device number 2 using xhci_hcd\n", "non-recoverable", 0),
            ("no faults", "6,1,1,-;usb 1-1: new high-speed USB device number 2 using xhci_hcd\n", "any", 0),
        ])
    func failOn(_ what: String, _ log: String, _ mode: String, _ code: Int32) throws {
        let dir = TempDir()
        let f = dir.write("log", log)
        let (rc, out) = try runCommand(Binary.path, ["replay", "--fail-on=\(mode)", f])
        #expect(rc == code, "\(what), --fail-on=\(mode): \(out)")
        #expect(out.contains("FAULTS") || out.contains("Devices with faults"), "the summary still prints: \(out)")
        if code == 2 { #expect(out.contains("found (--fail-on=\(mode))")) }
        let (bad, msg) = try runCommand(Binary.path, ["replay", "--fail-on=sometimes", f])
        #expect(bad != 0 && bad != 2 && msg.contains("fail-on"), "\(msg)")
    }

    @Test("the progress line: on a terminal for a large input, never on a pipe", .timeLimit(.minutes(2)))
    func progress() throws {
        let dir = TempDir()
        let path = dir.path + "/big.kmsg"
        // 70 MiB of noise records: over the 64 MiB a progress line waits for.
        let line = Array("6,1,1,-;usb 1-1: new high-speed USB device number 2 using xhci_hcd\n".utf8)
        var chunk: [UInt8] = []
        while chunk.count < 1 << 20 { chunk += line }
        let f = try #require(fopen(path, "w"))
        for _ in 0..<70 { _ = chunk.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) } }
        fclose(f)
        let (rc, piped) = try runCommand(Binary.path, ["replay", path])
        #expect(rc == 0)
        #expect(!piped.contains("\r") && !piped.contains("records/s"), "no progress on a pipe")
        // util-linux script(1) gives it a terminal.
        let script = try #require(Self.tool("script"), "script(1) is not installed")
        let (rc2, tty) = try runCommand(script, ["-qec", "\"\(Binary.path)\" replay \"\(path)\"", "/dev/null"])
        #expect(rc2 == 0, "\(tty)")
        #expect(tty.contains("MiB of 70 MiB") && tty.contains("records/s"), "progress on a terminal")
        #expect(tty.contains("\r\u{1B}[K"), "the line is erased at the end")
    }
}
