import Glibc
import IOMMUCore
import Testing

@testable import IOMMUDaemon

/// `iommud replay`'s input: gzip and zstd told by their bytes and decompressed as a stream, what
/// is corrupt or cut short said so (never a crash), and the exit codes the driver gives.
/// Fixtures/replay/kern.log is Fixtures/shapes/kern.log of the core's tests; the .gz and .zst
/// beside it are `gzip -n -9` and `zstd -19` of it.
@Suite("replay input")
struct ReplayInputTests {
    static let dir = fixturesRoot + "/replay/"

    static func raw(_ name: String) -> [UInt8] {
        guard let f = fopen(dir + name, "r") else { return [] }
        defer { fclose(f) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while case let n = fread(&buf, 1, buf.count, f), n > 0 { out += buf[0..<n] }
        return out
    }

    /// `bytes` through the decompressor, fed `inStep` bytes and given `outStep` bytes of room at a time.
    static func decompress(_ format: Decompressor.Format, _ bytes: [UInt8], inStep: Int, outStep: Int) throws
        -> (out: [UInt8], complete: Bool)
    {
        let d = try Decompressor(format)
        var out: [UInt8] = []
        var room = [UInt8](repeating: 0, count: outStep)
        var i = 0
        while true {
            let end = min(bytes.count, i + inStep)
            let (used, made) = try bytes.withUnsafeBufferPointer { b in
                try room.withUnsafeMutableBufferPointer { r in
                    try d.step(UnsafeBufferPointer(rebasing: b[i..<end]), into: r)
                }
            }
            i += used
            out += room[0..<made]
            if i == bytes.count && made == 0 { break }
        }
        return (out, d.atStreamEnd)
    }

    @Test("gzip and zstd give the plain bytes, whatever the step sizes", arguments: [(1, 1), (7, 3), (4096, 65536)])
    func steps(_ inStep: Int, _ outStep: Int) throws {
        let plain = Self.raw("kern.log")
        for (format, file) in [(Decompressor.Format.gzip, "kern.log.gz"), (.zstd, "kern.log.zst")] {
            let (out, complete) = try Self.decompress(format, Self.raw(file), inStep: inStep, outStep: outStep)
            #expect(out == plain, "\(file)")
            #expect(complete, "\(file)")
        }
        // Concatenated members and frames read one after the other, as zcat and zstdcat do.
        for (format, file) in [(Decompressor.Format.gzip, "kern.log.gz"), (.zstd, "kern.log.zst")] {
            let twice = Self.raw(file) + Self.raw(file)
            let (out, complete) = try Self.decompress(format, twice, inStep: inStep, outStep: outStep)
            #expect(out == plain + plain, "\(file) twice")
            #expect(complete)
        }
    }

    @Test("a truncated or corrupt stream is said so, never read as complete")
    func damaged() throws {
        for (format, file) in [(Decompressor.Format.gzip, "kern.log.gz"), (.zstd, "kern.log.zst")] {
            let good = Self.raw(file)
            for cut in [3, good.count / 2, good.count - 1] {
                let (_, complete) = try Self.decompress(format, Array(good[..<cut]), inStep: 100, outStep: 100)
                #expect(!complete, "\(file) cut at \(cut)")
            }
            var bad = good
            for i in stride(from: 20, to: bad.count - 8, by: 97) { bad[i] ^= 0x5a }
            #expect(throws: Decompressor.Failure.self, "\(file) corrupted") {
                _ = try Self.decompress(format, bad, inStep: 100, outStep: 100)
            }
        }
    }

    @Test("compression is told by the first bytes")
    func detect() {
        func d(_ b: [UInt8]) -> (Decompressor.Format?, String?) {
            Decompressor.detect(b[...])
        }
        #expect(d([0x1f, 0x8b, 8, 0]).0 == .gzip)
        #expect(d([0x28, 0xb5, 0x2f, 0xfd]).0 == .zstd)
        #expect(d([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]).1 == "xz")
        #expect(d(Array("BZh91AY".utf8)).1 == "bzip2")
        #expect(d(Array("Dec  7 09:00:00 h kernel: x".utf8)) == (nil, nil))
        #expect(d([0x1f]) == (nil, nil))
    }

    /// The driver over files: what it writes with --json, and its outcome.
    static func replay(_ files: [String], failOn: ReplayDriver.FailOn? = nil) -> (ReplayDriver.Outcome, String) {
        var o = ReplayDriver.Options()
        o.files = files
        o.json = true
        o.failOn = failOn
        // The JSON lines go to a file: a pipe could fill before the driver is done.
        let path = "/tmp/iommud-replayinput-\(getpid())-\(Int.random(in: 0..<1_000_000_000))"
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600)
        defer {
            close(fd)
            unlink(path)
        }
        let outcome = ReplayDriver.run(o, out: fd)
        return (outcome, readTestFile(path))
    }

    @Test("the driver reads .gz and .zst files as the plain one, and says what it could not read")
    func driver() {
        let (plain, want) = Self.replay([Self.dir + "kern.log"])
        #expect(plain.exitCode == 0 && want.split(separator: "\n").count == 11)
        for file in ["kern.log.gz", "kern.log.zst"] {
            let (o, got) = Self.replay([Self.dir + file])
            #expect(got == want, "\(file)")
            #expect(o.exitCode == 0 && o.ledger == plain.ledger, "\(file)")
        }
        let (missing, _) = Self.replay([Self.dir + "kern.log", "/nonexistent"])
        #expect(missing.failed && missing.exitCode == 1)
    }

    @Test("--fail-on: exit 2 for the faults it names, 0 otherwise")
    func failOn() {
        let (none, _) = Self.replay([Self.dir + "kern.log"], failOn: nil)
        #expect(none.exitCode == 0)
        let (nonRecoverable, _) = Self.replay([Self.dir + "kern.log"], failOn: .nonRecoverable)
        #expect(nonRecoverable.exitCode == 2 && nonRecoverable.matched == 11)
    }

    /// Unit-level conditions (counted per unit, never per device) fail `any`: an SMMUv3 GERROR,
    /// an AMD Completion-Wait timeout, an SMMUv3 event-queue overflow — no fault at all in the log.
    /// `non-recoverable` names faults only.
    @Test(
        "--fail-on=any also fails on unit errors and overflows",
        arguments: [
            "3,1,1000,-;arm-smmu-v3 arm-smmu-v3.0.auto: unexpected global error reported (0x00000001), this could be serious\n",
            "1,1,1000,-;AMD-Vi: Completion-Wait loop timed out\n",
            "3,1,1000,-;arm-smmu-v3 arm-smmu-v3.0.auto: EVTQ overflow detected -- events lost\n",
        ])
    func failOnUnitErrors(_ log: String) {
        let path = "/tmp/iommud-failon-\(getpid())-\(Int.random(in: 0..<1_000_000_000)).log"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        _ = log.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
        close(fd)
        defer { unlink(path) }
        let (any, _) = Self.replay([path], failOn: .any)
        #expect(any.exitCode == 2 && any.matched == 1, "\(log)")
        #expect(any.ledger.faults.isEmpty, "no fault in the log: \(log)")
        let (nonRecoverable, _) = Self.replay([path], failOn: .nonRecoverable)
        #expect(nonRecoverable.exitCode == 0 && nonRecoverable.matched == 0, "\(log)")
    }
}
