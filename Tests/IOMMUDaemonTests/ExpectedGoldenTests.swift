import Foundation
import IOMMUCore
import Testing

@testable import IOMMUDaemon

/// Golden `status` (text and JSON) and `/metrics` of the intel-server platform with the rules of
/// its `expected.toml`: three of its faults are expected, one rule never matches.
/// UPDATE_GOLDEN=1 rewrites them.
@Suite("Golden outputs with [[expected]] rules")
struct ExpectedGoldenTests {
    @Test("intel-server with expected.toml")
    func golden() throws {
        let tree = PlatformTree(.intelServer)
        let t = tree.scan()
        let config = try ConfigLoader.load(
            path: "expected.toml", text: readTestFile(Platform.intelServer.folder + "/expected.toml")
        ).get()
        var p = KmsgPipeline(fromStartOfBoot: false, topology: t)
        p.setExpectedRules(config.expectedRules)
        Platform.intelServer.kmsg.withBytes { p.read(stream: $0, isFinal: true) }
        var obs: [InterruptObservation]?
        if case .success(let o) = InterruptSampler(path: tree.root + "/interrupts").sample(topology: t) { obs = o }
        _ = p.commit(interrupts: obs)
        let e = p.ledger.expected
        #expect(e["nic-passthrough-probe"]?.matches == 2 && e["ice-firmware"]?.matches == 1)
        #expect(e["bmc-usb-rmrr"]?.matches == 0 && p.ledger.totalFaults == 2)
        let report = StatusReport(ledger: p.ledger, topology: t, daemon: nil)
        let snapshot = DaemonCore.Snapshot(
            ledger: p.ledger, topology: t, generation: 1,
            position: CountedPosition(countedSeq: nil, pendingSinceAtCount: nil))
        let metrics = String(
            decoding: MetricsExporter().render(snapshot, extras: .init(), process: ProcessStats()), as: UTF8.self)
        #expect(metrics.contains("\niommud_expected_rule_matches_total{rule=\"bmc-usb-rmrr\"} 0\n"))
        for (ext, actual) in [
            ("status.txt", report.text()), ("status.json", report.json() + "\n"), ("metrics", metrics),
        ] {
            let path = fixturesRoot + "/golden/intel-server.expected.\(ext)"
            if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1" {
                try actual.write(toFile: path, atomically: true, encoding: .utf8)
                continue
            }
            let expected = readTestFile(path)
            #expect(!expected.isEmpty, "no golden file \(path) (run with UPDATE_GOLDEN=1 once)")
            #expect(actual == expected, "\(path) differs:\n\(actual)")
        }
    }
}
