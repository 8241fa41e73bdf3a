import IOMMUCore
import Testing

/// `[[expected]]` rules: each criterion, how they combine, and how their values are written.
@Suite("Expected-fault rules: matching")
struct ExpectedRuleTests {
    static let nic = PCIAddress(segment: 1, bus: 0x81, device: 0, function: 0)

    /// An Intel DMA read of the NIC at 0x7f001000, 10 s after boot.
    static func fault(
        device: PCIAddress? = nic, kind: FaultKind = .dmaRead, reason: UInt16? = 6, address: UInt64? = 0x7f00_1000,
        ts: UInt64? = 10_000_000, driver: String? = nil
    ) -> Fault {
        Fault(
            vendor: .intel, kind: kind, recoverable: false, device: device, unit: "dmar4", reason: reason,
            reasonText: reason == 6 ? "PTE Read access is not set" : nil, address: address, driver: driver,
            timestampUsec: ts, text: "DMAR: …")
    }

    static let sysfsNIC = Topology.Device(
        address: nic, unit: "dmar4", group: 501, vendorID: "0x8086", deviceID: "0x10d3", driver: "vfio-pci")

    static func rule(_ configure: (inout ExpectedRule) -> Void) -> ExpectedRule {
        var r = ExpectedRule(name: "r")
        configure(&r)
        return r
    }

    @Test("each criterion alone: met by the fault that shows it, not by one that differs")
    func eachCriterion() {
        let f = Self.fault()
        let d = Self.sysfsNIC
        let met: [ExpectedRule] = [
            Self.rule { $0.devices = [.pci(Self.nic)] },
            Self.rule { $0.pciIDs = [.init(vendor: 0x8086, device: 0x10d3)] },
            Self.rule { $0.drivers = ["vfio-pci"] }, Self.rule { $0.vendors = [.intel] },
            Self.rule { $0.kinds = [.dmaRead] }, Self.rule { $0.reasons = [.code(6)] },
            Self.rule { $0.address = 0x7f00_0000...0x7f00_ffff }, Self.rule { $0.bootWindowUsec = 0...120_000_000 },
        ]
        for r in met { #expect(r.matches(f, device: d), "\(r)") }
        let unmet: [ExpectedRule] = [
            Self.rule { $0.devices = [.pci(PCIAddress(bus: 0x81, device: 0, function: 0))] },  // segment 0000
            Self.rule { $0.pciIDs = [.init(vendor: 0x8086, device: 0x10d4)] },
            Self.rule { $0.drivers = ["e1000e"] }, Self.rule { $0.vendors = [.amd] },
            Self.rule { $0.kinds = [.dmaWrite] }, Self.rule { $0.reasons = [.code(5)] },
            Self.rule { $0.address = 0x7f00_2000...0x7f00_ffff }, Self.rule { $0.bootWindowUsec = 0...9_999_999 },
        ]
        for r in unmet { #expect(!r.matches(f, device: d), "\(r)") }
    }

    @Test("every criterion given must hold (AND); a list is met by any of its values")
    func andOfAnys() {
        let f = Self.fault()
        var r = ExpectedRule(name: "nic-probe")
        r.pciIDs = [.init(vendor: 0x8086, device: 0x1533), .init(vendor: 0x8086, device: 0x10d3)]
        r.kinds = [.dmaWrite, .dmaRead]
        r.bootWindowUsec = 5_000_000...20_000_000
        #expect(r.hasCriteria)
        #expect(r.matches(f, device: Self.sysfsNIC))
        r.kinds = [.dmaWrite]
        #expect(!r.matches(f, device: Self.sysfsNIC), "one criterion unmet is enough to miss")
        #expect(!ExpectedRule(name: "none").hasCriteria)
    }

    @Test("pci_id and driver come from sysfs; a device it does not know meets no pci_id; the line's driver counts")
    func fromSysfs() {
        let f = Self.fault()
        let byID = Self.rule { $0.pciIDs = [.init(vendor: 0x8086, device: 0x10d3)] }
        #expect(byID.matches(f, device: Self.sysfsNIC))
        #expect(!byID.matches(f, device: nil), "no topology (a replay without --sysfs): no id to compare")
        var noIDs = Self.sysfsNIC
        noIDs.deviceID = nil
        #expect(!byID.matches(f, device: noIDs))
        var upper = Self.sysfsNIC
        upper.vendorID = "0X8086"
        upper.deviceID = "10D3"
        #expect(byID.matches(f, device: upper), "sysfs ids read with or without 0x, any case")
        let byDriver = Self.rule { $0.drivers = ["ixgbe"] }
        #expect(byDriver.matches(Self.fault(driver: "ixgbe"), device: nil), "the driver the line names")
        #expect(!byDriver.matches(Self.fault(driver: "ixgbe"), device: Self.sysfsNIC), "sysfs's driver first")
        #expect(!byDriver.matches(Self.fault(), device: nil))
    }

    @Test("address and boot_window hold both ends; a fault that does not show them does not meet them")
    func ranges() {
        let addr = Self.rule { $0.address = 0x1000...0x1fff }
        #expect(addr.matches(Self.fault(address: 0x1000), device: nil))
        #expect(addr.matches(Self.fault(address: 0x1fff), device: nil))
        #expect(!addr.matches(Self.fault(address: 0x2000), device: nil))
        #expect(!addr.matches(Self.fault(address: 0xfff), device: nil))
        #expect(!addr.matches(Self.fault(address: nil), device: nil))
        let boot = Self.rule { $0.bootWindowUsec = 10_000_000...120_000_000 }
        #expect(boot.matches(Self.fault(ts: 10_000_000), device: nil))
        #expect(boot.matches(Self.fault(ts: 120_000_000), device: nil))
        #expect(!boot.matches(Self.fault(ts: 120_000_001), device: nil))
        #expect(!boot.matches(Self.fault(ts: 9_999_999), device: nil))
        #expect(!boot.matches(Self.fault(ts: nil), device: nil), "pasted text without timestamps")
        let whole = Self.rule { $0.address = 0...UInt64.max }
        #expect(whole.matches(Self.fault(address: .max), device: nil))
    }

    @Test("a reason by its code, or by the kernel's text ignoring ASCII case")
    func reasons() {
        let f = Self.fault()
        #expect(Self.rule { $0.reasons = [.text("pte read ACCESS is not set")] }.matches(f, device: nil))
        #expect(!Self.rule { $0.reasons = [.text("PTE Read access is not")] }.matches(f, device: nil))
        #expect(Self.rule { $0.reasons = [.code(5), .code(6)] }.matches(f, device: nil))
        #expect(!Self.rule { $0.reasons = [.code(6)] }.matches(Self.fault(reason: nil), device: nil))
    }

    @Test("a non-PCI master is named by its kernel name, never taken for a PCI function")
    func master() {
        var f = Fault(vendor: .armSMMU, kind: "context-fault", recoverable: false, text: "arm-smmu …")
        f.master = "ff8f0000.vop"
        #expect(Self.rule { $0.devices = [.master("ff8f0000.vop")] }.matches(f, device: nil))
        #expect(!Self.rule { $0.devices = [.master("ff8f0000.vop")] }.matches(Self.fault(), device: nil))
        #expect(!Self.rule { $0.devices = [.pci(Self.nic)] }.matches(f, device: nil))
    }

    @Test("the first rule in the order of the file wins; no rule, no match")
    func firstWins() {
        var t = Topology()
        t.scanned = true
        t.devices[Self.nic] = Self.sysfsNIC
        let rules = ExpectedRules([
            Self.rule {
                $0.name = "writes"; $0.kinds = [.dmaWrite]
            },
            Self.rule {
                $0.name = "nic"; $0.pciIDs = [.init(vendor: 0x8086, device: 0x10d3)]
            },
            Self.rule {
                $0.name = "reads"; $0.kinds = [.dmaRead]
            },
        ])
        #expect(rules.firstMatch(Self.fault(), topology: t)?.name == "nic")
        #expect(rules.firstMatch(Self.fault(device: nil), topology: t)?.name == "reads")
        #expect(rules.firstMatch(Self.fault(kind: .dmaWrite), topology: t)?.name == "writes")
        #expect(ExpectedRules().firstMatch(Self.fault(), topology: t) == nil)
        #expect(ExpectedRules(Array(repeating: ExpectedRule(name: "x"), count: 300)).rules.count == 256)
    }

    @Test("rule names: 1 to 64 bytes of A-Z a-z 0-9 _ . -")
    func names() {
        for ok in ["bmc-usb-rmrr", "a", "NIC_fw.probe-2", String(repeating: "x", count: 64)] {
            #expect(ExpectedRules.isValidName(ok), "\(ok)")
        }
        for bad in ["", "has space", "quote\"", "new\nline", "é", "a/b", String(repeating: "x", count: 65)] {
            #expect(!ExpectedRules.isValidName(bad), "\(bad)")
        }
    }
}

/// How iommud.toml writes a criterion's values (ExpectedRuleSyntax): read, or refused saying why.
@Suite("Expected-fault rules: values")
struct ExpectedRuleSyntaxTests {
    @Test("values read as written")
    func accepted() throws {
        #expect(try ExpectedRuleSyntax.device("0000:00:14.0") == .pci(PCIAddress(bus: 0, device: 0x14, function: 0)))
        #expect(try ExpectedRuleSyntax.device("00:14.0") == .pci(PCIAddress(bus: 0, device: 0x14, function: 0)))
        #expect(
            try ExpectedRuleSyntax.device("0001:81:00.1")
                == .pci(PCIAddress(segment: 1, bus: 0x81, device: 0, function: 1)))
        #expect(try ExpectedRuleSyntax.device("ff8f0000.vop") == .master("ff8f0000.vop"))
        #expect(try ExpectedRuleSyntax.pciID("8086:10D3") == .init(vendor: 0x8086, device: 0x10d3))
        #expect(try ExpectedRuleSyntax.pciID("8086:10d3").description == "8086:10d3")
        #expect(try ExpectedRuleSyntax.driver("vfio-pci") == "vfio-pci")
        #expect(try ExpectedRuleSyntax.vendor("arm-smmu-v3") == .armSMMUv3)
        #expect(try ExpectedRuleSyntax.kind("io-page-fault") == "io-page-fault")
        #expect(try ExpectedRuleSyntax.kind("intr-remap") == .interruptRemapping)
        #expect(try ExpectedRuleSyntax.reason("0x06") == .code(6))
        #expect(try ExpectedRuleSyntax.reason("0xffff") == .code(0xffff))
        #expect(try ExpectedRuleSyntax.reason("PTE Read access is not set") == .text("PTE Read access is not set"))
        #expect(try ExpectedRuleSyntax.address("0x8d000000") == 0x8d00_0000)
        #expect(try ExpectedRuleSyntax.address("0xffffffffffffffff") == .max)
        #expect(try ExpectedRuleSyntax.range(UInt64(1), 1, shown: "x") == 1...1)
    }

    @Test(
        "values refused, saying why",
        arguments: [
            ("device", "0000:00:14", "not a PCI address"), ("device", "00:14.8", "not a PCI address"),
            ("device", "0000:100:00.0", "not a PCI address"), ("device", "", "not a device"),
            ("device", "a b", "not a device"), ("pci_id", "8086", "vendor:device"),
            ("pci_id", "8086:10d", "vendor:device"), ("pci_id", "0x8086:0x10d3", "vendor:device"),
            ("pci_id", "8086:10dz", "vendor:device"), ("driver", "", "not a driver"),
            ("driver", "bad/driver", "not a driver"), ("vendor", "intell", "not an IOMMU family"),
            ("vendor", "Intel", "not an IOMMU family"), ("kind", "dma_read", "not a fault kind"),
            ("kind", "io-page-faults", "not a fault kind"), ("reason", "0x", "not a reason code"),
            ("reason", "0x10000", "not a reason code"), ("reason", "0xzz", "not a reason code"),
            ("reason", "", "not a reason"), ("reason", "tab\there", "not a reason"),
            ("address", "8d000000", "not an address"), ("address", "0x", "not an address"),
            ("address", "0x1ffffffffffffffff", "not an address"), ("address", "0x-1", "not an address"),
        ])
    func refused(_ key: String, _ value: String, _ message: String) {
        do throws(ExpectedRuleSyntax.Problem) {
            switch key {
            case "device": _ = try ExpectedRuleSyntax.device(value)
            case "pci_id": _ = try ExpectedRuleSyntax.pciID(value)
            case "driver": _ = try ExpectedRuleSyntax.driver(value)
            case "vendor": _ = try ExpectedRuleSyntax.vendor(value)
            case "kind": _ = try ExpectedRuleSyntax.kind(value)
            case "reason": _ = try ExpectedRuleSyntax.reason(value)
            default: _ = try ExpectedRuleSyntax.address(value)
            }
            Issue.record("\(key) = \(value) was accepted")
        } catch {
            #expect(error.message.contains(message), "\(error.message)")
            #expect(!error.message.contains("\t"), "control characters are escaped: \(error.message)")
        }
    }

    @Test("a range's low end must not be above its high end; a long value is cut short in the message")
    func rangesAndExcerpts() {
        #expect(throws: ExpectedRuleSyntax.Problem.self) { try ExpectedRuleSyntax.range(UInt64(2), 1, shown: "x") }
        do throws(ExpectedRuleSyntax.Problem) {
            _ = try ExpectedRuleSyntax.pciID(String(repeating: "z", count: 10_000))
        } catch {
            #expect(error.message.utf8.count < 200)
        }
    }
}
