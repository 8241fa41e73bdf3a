import Foundation
import IOMMUCore
import Logging
import Testing

@testable import IOMMUDaemon

/// A fault naming a device sysfs did not have (hotplug) triggers one rescan, at most once per
/// 10 s, and addresses still unknown afterwards are not rescanned for again.
@Suite("Hotplug rescans")
struct HotplugTests {
    /// What the reader does with one read of /dev/kmsg, after which the device had no more.
    static func read(_ line: String) -> (inout KmsgPipeline) -> Void {
        { p in
            (line + "\n").withBytes { p.read(record: $0) }
            p.idle()
        }
    }

    @Test("a hotplugged device's first fault is attributed; random addresses do not make it rescan in a loop")
    func hotplug() throws {
        let tree = PlatformTree(.intelQEMU)
        var config = Configuration()
        config.sysfsRoot = tree.root + "/sys"
        config.cmdlinePath = tree.root + "/cmdline"
        config.interruptsPath = tree.root + "/interrupts"
        let core = DaemonCore(
            config: config, pipeline: KmsgPipeline(topology: TopologyScanner(sysfsRoot: config.sysfsRoot).scan()),
            lifetime: LifetimeTotals(), bootID: "b", logger: Logger(label: "test"))
        // A device appears after the daemon scanned sysfs …
        tree.sys.device(
            "0000:00:05.0", vendorID: "0x8086", deviceID: "0x10d3", driver: "e1000e", unit: "dmar0", group: 7)
        tree.sys.group(7, type: "DMA")
        // … and faults at once: the fault still lands on its unit.
        let f = core.ingest(
            Self.read(
                "3,10,100,-;DMAR: [DMA Read NO_PASID] Request device [00:05.0] fault addr 0x1000 [fault reason 0x06] PTE Read access is not set"
            )
        ).faults
        #expect(f.first?.unit == "dmar0")
        #expect(core.facts.withLock { $0.rescans } == 1)
        // Random addresses right after: no further rescan within 10 s.
        for i in 0..<5 {
            _ = core.ingest(
                Self.read(
                    "3,\(11 + i),200,-;DMAR: [DMA Read NO_PASID] Request device [\(String(0x90 + i, radix: 16)):00.0] fault addr 0x1000 [fault reason 0x06] PTE Read access is not set"
                ))
        }
        #expect(core.facts.withLock { $0.rescans } == 1)
        // The devices the rescan did not find are not asked for again …
        #expect(core.pipeline.withLock { $0.requests.unknownDevices.isEmpty })
        // … until the periodic rescan forgets them.
        core.rescan()
        #expect(core.facts.withLock { $0.rescans } == 2)
    }
}
