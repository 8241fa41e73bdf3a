import Foundation
import Glibc
import IOMMUCore
import IOMMUDaemon
import Testing

@Suite("Reload and clear failures", .serialized)
struct ReloadTests {
    init() throws {
        guard Binary.exists else { throw HarnessError("no iommud binary at \(Binary.path)") }
    }

    /// SIGHUP re-reads the config: a new listen address and log level take effect, nothing is
    /// re-read from kmsg and no counter resets; a broken config keeps the old one and says why.
    @Test("SIGHUP: new listen address, counters kept; a broken config keeps the old one")
    func reload() throws {
        let d = Daemon()
        let ring = try d.useRecordFile(bootID: "6b3c0f4e-0000-4000-8000-000000000006")
        ring.append(intelFault(bus: 0x46, device: 1, function: 0, write: true, address: 0x1000))
        try d.start()
        try d.waitReady()
        _ = try d.waitFor("the first fault") { $0.sum("iommu_faults_total") == 1 }
        let oldPort = d.port
        let newPort = freePort()
        try d.editConfig { $0.replacingOccurrences(of: "127.0.0.1:\(oldPort)", with: "127.0.0.1:\(newPort)") }
        d.signal(SIGHUP)
        var served: (Int, String)?
        retry {
            served = httpGet(port: newPort, path: "/metrics")
            return served != nil
        }
        let body = try #require(served?.1, "nothing on the new port after SIGHUP:\n\(d.log)")
        let s = Scrape(body)
        #expect(s.sum("iommu_faults_total") == 1, "no counter reset, nothing re-read")
        #expect(s.sum("iommud_config_last_reload_successful") == 1)
        // The new listeners are bound first, then the old ones closed.
        let oldClosed = retry { httpGet(port: oldPort, path: "/metrics") == nil }
        #expect(oldClosed, "the old listener is closed")
        // A broken config: the old one keeps running, the metric says so, the log says why.
        try d.editConfig { $0 + "\n[http]\nlisen = 1\n" }
        d.signal(SIGHUP)
        var after: Scrape?
        retry {
            guard let (_, b) = httpGet(port: newPort, path: "/metrics") else { return false }
            let s = Scrape(b)
            guard s.sum("iommud_config_last_reload_successful") == 0 else { return false }
            after = s
            return true
        }
        #expect(after != nil, "reload failure not reported:\n\(d.log)")
        #expect(d.log.contains("reload failed, keeping the running configuration"))
        ring.append(intelFault(bus: 0x46, device: 1, function: 0, write: true, address: 0x2000))
        d.port = newPort
        _ = try d.waitFor("a fault after the failed reload") { $0.sum("iommu_faults_total") == 2 }
        #expect(d.stop() == 0)
    }

    /// A unit whose fault vector has no /proc/interrupts row, and an unreadable sysfs: the
    /// daemon runs and says, once, what is missing and why.
    @Test("a missing /proc/interrupts row and an unreadable sysfs are named, not fatal")
    func clearWarnings() throws {
        let d = Daemon()
        _ = try d.useRecordFile(bootID: "6b3c0f4e-0000-4000-8000-000000000007")
        let sys = d.dir.path + "/sys"
        try FileManager.default.createDirectory(
            atPath: sys + "/class/iommu/dmar0/intel-iommu", withIntermediateDirectories: true)
        _ = d.dir.write("sys/class/iommu/dmar0/intel-iommu/cap", "d2008c22260206")
        _ = d.dir.write("interrupts", "           CPU0\n  0:  5  IO-APIC  2-edge  timer\n")
        try d.editConfig {
            $0.replacingOccurrences(
                of: "[sources]\n", with: "[sources]\nsysfs = \"\(sys)\"\ninterrupts = \"\(d.dir.path)/interrupts\"\n")
        }
        try d.start()
        try d.waitReady()
        _ = try d.metrics()
        #expect(d.log.contains("no /proc/interrupts row for dmar0's fault vector"), "\(d.log)")
        #expect(d.stop() == 0)
        // sysfs that cannot be read.
        try d.editConfig { $0.replacingOccurrences(of: "sysfs = \"\(sys)\"", with: "sysfs = \"/nonexistent/sys\"") }
        try d.start()
        try d.waitReady()
        #expect(d.log.contains("cannot read /nonexistent/sys/class"), "\(d.log)")
        #expect(d.stop() == 0)
    }
}
