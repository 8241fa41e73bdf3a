import Foundation
import Glibc
import IOMMUCore
import Testing

/// `[[expected]]` through the CLI: `replay --config` applies the rules to a saved log, and a bad
/// rule is refused by `check-config`, `run` and `replay` alike, naming file and line (exit 78).
@Suite("iommud CLI: [[expected]] rules")
struct ExpectedCLITests {
    init() throws {
        guard Binary.exists else { throw HarnessError("no iommud binary at \(Binary.path)") }
    }

    static let log = """
        [   10.000000] DMAR: [DMA Read NO_PASID] Request device [81:00.0] fault addr 0x1000 [fault reason 0x06] PTE Read access is not set
        [   11.000000] DMAR: [DMA Write NO_PASID] Request device [81:00.0] fault addr 0x2000 [fault reason 0x05] PTE Write access is not set

        """

    @Test("replay --config counts a matching fault under its rule, the others as before")
    func replay() throws {
        let dir = TempDir()
        let config = dir.write(
            "iommud.toml", "[[expected]]\nname = \"nic-probe\"\ndevice = \"0000:81:00.0\"\nkind = \"dma-read\"\n")
        let log = dir.write("dmesg.txt", Self.log)
        let (rc, out) = try runCommand(Binary.path, ["replay", "--json", "--config", config, log])
        #expect(rc == 0, "\(out)")
        let faults = out.split(separator: "\n").filter { $0.hasPrefix("{\"vendor\"") }.compactMap {
            MiniJSON.parse(String($0))
        }
        #expect(faults.count == 2, "\(out)")
        if faults.count == 2, case .object(let read) = faults[0], case .object(let write) = faults[1] {
            #expect(read["expected"] == .string("nic-probe") && read["kind"] == .string("dma-read"))
            #expect(write["expected"] == nil && write["kind"] == .string("dma-write"))
        }
        #expect(out.contains("Expected faults") && out.contains("nic-probe"), "the summary: \(out)")
        let (_, plain) = try runCommand(Binary.path, ["replay", "--json", log])
        #expect(!plain.contains("\"expected\"") && !plain.contains("Expected faults"), "\(plain)")
    }

    @Test("--fail-on passes what an [[expected]] rule matched, and fails on the rest")
    func failOnPassesExpected() throws {
        let dir = TempDir()
        let both = dir.write(
            "both.toml", "[[expected]]\nname = \"nic-probe\"\ndevice = \"0000:81:00.0\"\n")
        let readOnly = dir.write(
            "read.toml", "[[expected]]\nname = \"nic-probe\"\ndevice = \"0000:81:00.0\"\nkind = \"dma-read\"\n")
        let log = dir.write("dmesg.txt", Self.log)
        let (allExpected, out1) = try runCommand(Binary.path, ["replay", "--fail-on=any", "--config", both, log])
        #expect(allExpected == 0, "every fault is expected: \(out1)")
        let (oneLeft, out2) = try runCommand(Binary.path, ["replay", "--fail-on=any", "--config", readOnly, log])
        #expect(oneLeft == 2, "the write fault is not expected: \(out2)")
    }

    @Test("a rule without a criterion is refused by check-config, run and replay, with file and line")
    func badRule() throws {
        let dir = TempDir()
        let bad = dir.write("bad.toml", "[log]\nlevel = \"info\"\n[[expected]]\nname = \"catch-all\"\n")
        let log = dir.write("dmesg.txt", Self.log)
        for args in [
            ["check-config", bad], ["run", "--config", bad, "--foreground"], ["replay", "--config", bad, log],
        ] {
            let (rc, out) = try runCommand(Binary.path, args)
            #expect(rc == 78, "\(args[0]): \(out)")
            #expect(out.contains("\(bad):3:") && out.contains("has no criterion"), "\(args[0]): \(out)")
        }
    }
}
