import ConfigSyntax
import IOMMUCore
import Testing

@testable import IOMMUDaemon

/// `[[expected]]` in iommud.toml: what check-config accepts, what it refuses (file, line, key),
/// and that what it prints loads back as the same rules.
@Suite("config: [[expected]] rules")
struct ExpectedConfigTests {
    static func load(_ text: String) -> Result<Configuration, ConfigProblems> {
        ConfigLoader.load(path: "/etc/iommud/iommud.toml", text: text)
    }

    @Test("the commented example of config/iommud.toml, uncommented, loads as documented")
    func documentedExample() throws {
        let lines = readTestFile(packageRoot + "/config/iommud.toml").split(separator: "\n").map(String.init)
        let start = try #require(lines.firstIndex(of: "#[[expected]]"))
        let example = lines[start...].map { String($0.dropFirst()) }.joined(separator: "\n") + "\n"
        let c = try Self.load(example).get()
        let rules = c.expectedRules.rules
        #expect(rules.map(\.name) == ["bmc-usb-rmrr", "nic-firmware-probe"])
        #expect(rules[0].pciIDs == [.init(vendor: 0x8086, device: 0xa36d)])
        #expect(rules[0].address == 0x8d00_0000...0x8d7f_ffff)
        #expect(rules[0].bootWindowUsec == 0...120_000_000)
        #expect(rules[1].drivers == ["ixgbe"] && rules[1].kinds == [.dmaRead] && rules[1].reasons == [.code(6)])
    }

    @Test("every criterion, one value or a list; what check-config prints loads back the same")
    func everyCriterion() throws {
        let text = """
            [storm]
            threshold = 20

            [[expected]]
            name = "all-of-them"
            device = ["0000:00:14.0", "81:00.1", "ff8f0000.vop"]
            pci_id = ["8086:a36d", "8086:10D3"]
            driver = ["xhci_hcd", "vfio-pci"]
            vendor = ["intel", "amd"]
            kind = ["dma-read", "io-page-fault"]
            reason = ["0x06", "PTE Write access is not set"]
            address = ["0x1000", "0x1fff"]
            boot_window = ["10s", "2m"]

            [[expected]]
            name = "one-each"
            device = "0000:00:14.0"
            address = "0xfffff000"
            boot_window = "0"
            """
        let c = try Self.load(text).get()
        #expect(c.stormThreshold == 20)
        let r = c.expectedRules.rules
        #expect(r.count == 2)
        #expect(
            r[0].devices == [
                .pci(PCIAddress(bus: 0, device: 0x14, function: 0)),
                .pci(PCIAddress(bus: 0x81, device: 0, function: 1)),
                .master("ff8f0000.vop"),
            ])
        #expect(r[0].vendors == [.intel, .amd] && r[0].kinds == [.dmaRead, "io-page-fault"])
        #expect(r[0].reasons == [.code(6), .text("PTE Write access is not set")])
        #expect(r[0].address == 0x1000...0x1fff && r[0].bootWindowUsec == 10_000_000...120_000_000)
        #expect(r[1].address == 0xffff_f000...0xffff_f000 && r[1].bootWindowUsec == 0...0)
        let printed = c.rendered()
        #expect(printed.contains("\n[[expected]]\nname = \"all-of-them\"\n"))
        #expect(printed.contains("pci_id = [\"8086:a36d\", \"8086:10d3\"]\n"))
        #expect(printed.contains("boot_window = [\"10s\", \"2m\"]\n"))
        var back = try Self.load(printed).get()
        back.file = c.file
        #expect(back == c, "\(printed)")
    }

    @Test(
        "refused with file, line and key",
        arguments: [
            ("[[expected]]\ndevice = \"0000:00:14.0\"\n", 1, "expected.name", "needs a name"),
            ("[[expected]]\nname = 3\ndevice = \"0000:00:14.0\"\n", 2, "expected.name", "must be a string"),
            ("[[expected]]\nname = \"a b\"\nkind = \"dma-read\"\n", 2, "expected.name", "not a rule name"),
            ("\n[[expected]]\nname = \"catch-all\"\n", 2, "expected", "has no criterion"),
            ("[[expected]]\nname = \"x\"\ndevise = \"0000:00:14.0\"\n", 3, "expected.devise", "unknown key"),
            ("[[expected]]\nname = \"x\"\npci_id = \"8086:a36\"\n", 3, "expected.pci_id", "vendor:device"),
            ("[[expected]]\nname = \"x\"\nvendor = \"intell\"\n", 3, "expected.vendor", "not an IOMMU family"),
            (
                "[[expected]]\nname = \"x\"\nkind = [\"dma-read\", \"dma_write\"]\n", 3, "expected.kind",
                "not a fault kind"
            ),
            ("[[expected]]\nname = \"x\"\nkind = []\n", 3, "expected.kind", "empty list matches nothing"),
            ("[[expected]]\nname = \"x\"\nkind = 1\n", 3, "expected.kind", "a string or a list of strings"),
            ("[[expected]]\nname = \"x\"\nreason = \"0x1ffff\"\n", 3, "expected.reason", "not a reason code"),
            ("[[expected]]\nname = \"x\"\naddress = [\"0x2000\", \"0x1000\"]\n", 3, "expected.address", "first end"),
            ("[[expected]]\nname = \"x\"\naddress = [\"0x1000\"]\n", 3, "expected.address", "two strings"),
            ("[[expected]]\nname = \"x\"\naddress = \"4096\"\n", 3, "expected.address", "not an address"),
            ("[[expected]]\nname = \"x\"\nboot_window = \"366d\"\n", 3, "expected.boot_window", "from 0s to 365d"),
            ("[[expected]]\nname = \"x\"\nboot_window = \"2 minutes\"\n", 3, "expected.boot_window", "not a duration"),
            ("[[expected]]\nname = \"x\"\nboot_window = [\"2m\", \"1m\"]\n", 3, "expected.boot_window", "first end"),
            (
                "[[expected]]\nname = \"x\"\nboot_window = \"99999999999999999999d\"\n", 3, "expected.boot_window",
                "365d"
            ),
            (
                "[[expected]]\nname = \"x\"\nkind = \"dma-read\"\n[[expected]]\nname = \"x\"\nkind = \"dma-write\"\n",
                5,
                "expected.name", "used twice (first on line 2)"
            ),
            ("[expected]\nname = \"x\"\nkind = \"dma-read\"\n", 1, "expected", "one [[expected]] header per rule"),
            ("expected = \"x\"\n", 1, "expected", "one [[expected]] header per rule"),
        ])
    func refused(_ text: String, _ line: Int, _ key: String, _ message: String) {
        guard case .failure(let p) = Self.load(text) else {
            Issue.record("accepted: \(text)")
            return
        }
        #expect(p.problems.count == 1, "\(p)")
        #expect(p.problems.first?.line == line, "\(p)")
        #expect(p.description.hasPrefix("/etc/iommud/iommud.toml:\(line): "), "\(p)")
        #expect(p.description.contains("'\(key)'") || p.description.contains("[\(key)]"), "\(p)")
        #expect(p.description.contains(message), "\(p)")
    }

    @Test("at most 256 rules: the 257th header is refused by its line; 64 values in a list, not 65")
    func bounds() throws {
        func rules(_ n: Int) -> String {
            (0..<n).map { "[[expected]]\nname = \"r\($0)\"\nkind = \"dma-read\"\n" }.joined()
        }
        #expect(try Self.load(rules(256)).get().expectedRules.rules.count == 256)
        guard case .failure(let p) = Self.load(rules(257)) else {
            Issue.record("257 rules accepted")
            return
        }
        #expect(p.problems.count == 1 && p.problems[0].line == 256 * 3 + 1, "\(p)")
        #expect(p.description.contains("more than 256 [[expected]] rules"))
        let values = (0..<65).map { "\"0000:00:\(String($0 % 32, radix: 16)).\($0 / 32)\"" }
        let ok = "[[expected]]\nname = \"x\"\ndevice = [\(values.prefix(64).joined(separator: ", "))]\n"
        #expect(try Self.load(ok).get().expectedRules.rules[0].devices.count == 64)
        let over = "[[expected]]\nname = \"x\"\ndevice = [\(values.joined(separator: ", "))]\n"
        guard case .failure(let q) = Self.load(over) else {
            Issue.record("65 values accepted")
            return
        }
        #expect(q.description.contains("at most 64 values, not 65"), "\(q)")
    }

    @Test("the largest rule set check-config accepts runs: 256 rules of 64 values a list, ranges at their ends")
    func largestRuns() throws {
        // The families' kinds, each once, the 32 shortest: with every driver of drivers/iommu/ there
        // are more than 64, and 64 of them in each of 256 rules would take the file past its 1 MiB
        // bound (every other list keeps its 64 values).
        let kinds = Array(
            Array(Set(FamilyCatalog.standard.descriptors.flatMap(\.kinds).map(\.rawValue)))
                .sorted { ($0.utf8.count, $0) < ($1.utf8.count, $1) }.prefix(32))
        let vendors = FamilyCatalog.standard.descriptors.map(\.vendor.rawValue)
        func list(_ xs: [String]) -> String { "[" + xs.prefix(64).map { "\"\($0)\"" }.joined(separator: ", ") + "]" }
        var text = ""
        for r in 0..<256 {
            // Only the last rule's devices are those that fault: every fault is tried on all 256.
            let bus = r == 255 ? 0x81 : (r == 0x81 ? 0xff : r)
            text += "[[expected]]\nname = \"rule-\(r)\"\n"
            text +=
                "device = \(list((0..<64).map { "0000:\(String(bus, radix: 16).leftPadded(2)):\(String($0 % 32, radix: 16).leftPadded(2)).\($0 / 32)" }))\n"
            text += "pci_id = \(list((0..<64).map { "8086:\(String(0x1000 + $0, radix: 16))" }))\n"
            text += "driver = \(list((0..<63).map { "driver\($0)" } + ["vfio-pci"]))\n"
            text += "vendor = \(list(vendors))\nkind = \(list(kinds))\n"
            text += "reason = \(list((0..<64).map { "0x" + String($0, radix: 16) }))\n"
            text += "address = [\"0x0\", \"0xffffffffffffffff\"]\nboot_window = [\"0s\", \"365d\"]\n"
        }
        let c = try Self.load(text).get()
        #expect(c.expectedRules.rules.count == 256)
        var back = try Self.load(c.rendered()).get()
        back.file = c.file
        #expect(back == c, "what check-config prints loads back the same")
        let nic = PCIAddress(bus: 0x81, device: 0, function: 0)
        var t = Topology()
        t.scanned = true
        t.devices[nic] = Topology.Device(address: nic, vendorID: "0x8086", deviceID: "0x1000", driver: "vfio-pci")
        var p = KmsgPipeline(fromStartOfBoot: false, topology: t)
        p.setExpectedRules(c.expectedRules)
        var kmsg = ""
        for i in 1...200 {
            kmsg +=
                "3,\(i),\(UInt64(i) * 1_000_000),-;DMAR: [DMA Read NO_PASID] Request device [81:00.0] fault addr 0x\(String(i, radix: 16))000 [fault reason 0x06] PTE Read access is not set\n"
        }
        kmsg.withBytes { p.read(stream: $0, isFinal: true) }
        _ = p.commit()
        #expect(p.ledger.expected["rule-255"]?.matches == 200 && p.ledger.totalFaults == 0)
        #expect(p.ledger.expected.tallies.count == 256)
    }

    @Test("a file whose other sections are wrong still names every problem, rules included")
    func problemsTogether() {
        let text = "[storm]\nthreshold = 0\n[[expected]]\nname = \"x\"\n"
        guard case .failure(let p) = Self.load(text) else {
            Issue.record("accepted")
            return
        }
        #expect(p.problems.map(\.line) == [2, 3])
    }
}
