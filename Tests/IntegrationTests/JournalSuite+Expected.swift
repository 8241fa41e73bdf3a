import Foundation
import Glibc
import IOMMUCore
import IOMMUDaemon
import Testing

/// `[[expected]]` rules end to end, on the real /dev/kmsg and journald: a fault a rule matches
/// is counted apart (iommu_expected_faults_total, not iommu_faults_total), journaled at
/// PRIORITY 6 with its rule, runs no action and shows in `status` under its rule; a fault of the
/// same device that the rule does not match is counted, journaled and acted on as always; a
/// rule that never matched is listed; a reload that renames a rule keeps what it counted.
extension KmsgSuite.JournalSuite {
    @Test("an expected fault counts apart, pages no one, is journaled at info under its rule", .timeLimit(.minutes(2)))
    func expectedFaults() throws {
        let bus = Kmsg.uniqueBus()
        let b = Self.hex2(bus)
        let dev = "0000:\(b):05.0"
        let rule = "nic-fw-probe-\(b)"
        let stale = "bmc-usb-\(b)"
        let d = Daemon(
            extraConfig: """
                [storm]
                journal_max_per_second = 10000
                [actions]
                on_fault = ["/bin/sh", "-c", "touch '\(TempDirPath.placeholder)/action-'$KMSG_SEQ"]
                max_per_minute = 600
                max_concurrent = 64

                [[expected]]
                name = "\(stale)"
                device = "0000:\(b):1f.7"
                boot_window = "2m"

                [[expected]]
                name = "\(rule)"
                pci_id = "8086:1533"
                driver = "igb"
                kind = "dma-read"
                """)
        // The device in a sysfs of the test's own: its PCI id and driver are what the rule names.
        let sys = d.dir.path + "/sys"
        let devDir = "\(sys)/devices/pci0000:\(b)/\(dev)"
        for p in ["\(sys)/class/iommu", "\(sys)/bus/pci/devices", "\(sys)/bus/pci/drivers/igb", devDir] {
            try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        }
        _ = FileManager.default.createFile(atPath: devDir + "/vendor", contents: Data("0x8086\n".utf8))
        _ = FileManager.default.createFile(atPath: devDir + "/device", contents: Data("0x1533\n".utf8))
        try FileManager.default.createSymbolicLink(
            atPath: devDir + "/driver", withDestinationPath: "\(sys)/bus/pci/drivers/igb")
        try FileManager.default.createSymbolicLink(atPath: "\(sys)/bus/pci/devices/\(dev)", withDestinationPath: devDir)
        try d.fillPlaceholder()
        try d.editConfig { $0.replacingOccurrences(of: "[sources]\n", with: "[sources]\nsysfs = \"\(sys)\"\n") }
        let (rc, checked) = try runCommand(Binary.path, ["check-config", d.configPath])
        #expect(rc == 0 && checked.contains("name = \"\(rule)\""), "\(checked)")
        try d.start()
        try d.waitReady()
        // Every rule is exported from the start, at 0.
        _ = try d.waitFor("both rules at 0") { s in
            [rule, stale].allSatisfy { s.text.contains("iommud_expected_rule_matches_total{rule=\"\($0)\"} 0\n") }
        }

        // The rule's fault (a read) and one of the same device it does not match (a write).
        Kmsg.inject(intelFault(bus: bus, device: 5, function: 0, write: false, address: 0x1000))
        Kmsg.inject(intelFault(bus: bus, device: 5, function: 0, write: true, address: 0x2000))
        let s = try d.waitFor("one expected fault and one that pages") {
            $0.sum("iommu_expected_faults_total", where: ["rule": rule, "device": dev]) == 1
                && $0.sum("iommu_faults_total", where: ["device": dev]) == 1
        }
        #expect(s.sum("iommu_faults_total", where: ["device": dev, "kind": "dma-write"]) == 1)
        #expect(s.sum("iommu_faults_total", where: ["device": dev, "kind": "dma-read"]) == 0)
        let series = s.series("iommu_expected_faults_total").filter { $0.labels["device"] == dev }
        #expect(series.count == 1)
        #expect(series.first?.labels["kind"] == "dma-read" && series.first?.labels["reason"] == "0x06")
        #expect(series.first?.labels["vendor"] == "intel" && series.first?.labels["recoverable"] == "false")
        #expect(s.sum("iommud_expected_rule_matches_total", where: ["rule": rule]) == 1)
        #expect(s.sum("iommud_expected_rule_matches_total", where: ["rule": stale]) == 0)

        // status: the rule with its match, the stale rule listed.
        let status = try d.status()
        guard case .array(let rules)? = status["expected"] else {
            Issue.record("no expected section in status --json")
            return
        }
        let mine = rules.first { $0["rule"] == .string(rule) }
        #expect(mine?["matches"] == .number(1) && mine?["configured"] == .bool(true))
        #expect(mine?["devices"]?[dev] == .number(1))
        #expect(mine?["last_match"]?["kind"] == .string("dma-read"))
        #expect(rules.first { $0["rule"] == .string(stale) }?["matches"] == .number(0))
        let entry = status.devices.first { $0["device"] == .string(dev) }
        #expect(entry?["faults"] == .number(1), "the device's paging fault only")
        let (_, text) = try runCommand(Binary.path, ["status", "--socket", d.controlSocket])
        #expect(text.contains("Expected faults"), "\(text)")
        #expect(text.split(separator: "\n").contains { $0.contains(stale) && $0.contains("never matched since boot") })

        // The journal: the expected fault at 6 with its rule, the other at 3.
        let entries = try JournalQuery.waitFor(
            "2 fault entries", ["MESSAGE_ID=\(MessageID.fault)", "IOMMU_DEVICE=\(dev)"] + d.ownEntries, log: d.log
        ) { $0.count >= 2 }
        #expect(entries.count == 2, "each fault once")
        let expectedEntry = entries.first { $0["IOMMU_KIND"] == "dma-read" }
        let pagingEntry = entries.first { $0["IOMMU_KIND"] == "dma-write" }
        #expect(expectedEntry?["PRIORITY"] == "6" && expectedEntry?["IOMMUD_EXPECTED_RULE"] == rule)
        #expect(expectedEntry?["MESSAGE"]?.contains("(expected: rule \(rule) in iommud.toml)") == true)
        #expect(expectedEntry?["IOMMU_DRIVER"] == "igb", "sysfs's driver")
        #expect(pagingEntry?["PRIORITY"] == "3" && pagingEntry?["IOMMUD_EXPECTED_RULE"] == nil)
        // `iommud log` names the rule (and only for the expected fault).
        let (_, logText) = try runCommand(Binary.path, ["log", "--device", dev, "--since=-1h"])
        let logLines = logText.split(separator: "\n")
        #expect(logLines.contains { $0.contains("dma-read") && $0.contains("expected: rule \(rule)") }, "\(logText)")
        #expect(logLines.contains { $0.contains("dma-write") && !$0.contains("expected:") }, "\(logText)")
        let (_, logJSON) = try runCommand(Binary.path, ["log", "--device", dev, "--since=-1h", "--json"])
        #expect(
            logJSON.split(separator: "\n").filter { $0.contains("\"expected\":\"\(rule)\"") }.count == 1, "\(logJSON)")

        // Actions: the paging fault's ran, the expected fault's did not.
        let expectedSeq = expectedEntry?["KMSG_SEQ"] ?? "?"
        let pagingSeq = pagingEntry?["KMSG_SEQ"] ?? "?"
        try eventually("the paging fault's action ran") {
            FileManager.default.fileExists(atPath: d.dir.path + "/action-" + pagingSeq)
        }
        #expect(!FileManager.default.fileExists(atPath: d.dir.path + "/action-" + expectedSeq))

        // A reload that renames the rule: the old name keeps its 1, no longer configured; the new
        // one starts at 0.
        let renamed = "nic-firmware-\(b)"
        try d.editConfig { $0.replacingOccurrences(of: "name = \"\(rule)\"", with: "name = \"\(renamed)\"") }
        d.signal(SIGHUP)
        let after = try d.waitFor("the renamed rule") {
            $0.text.contains("iommud_expected_rule_matches_total{rule=\"\(renamed)\"} 0")
        }
        #expect(after.sum("iommud_expected_rule_matches_total", where: ["rule": rule]) == 1)
        #expect(after.sum("iommu_expected_faults_total", where: ["rule": rule, "device": dev]) == 1)
        #expect(after.sum("iommud_config_last_reload_successful") == 1)
        let reloaded = try d.status()
        if case .array(let rs)? = reloaded["expected"] {
            #expect(rs.first { $0["rule"] == .string(rule) }?["configured"] == .bool(false))
        }
        #expect(d.stop() == 0)
    }
}
