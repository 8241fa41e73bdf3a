import IOMMUCore
import Testing

@Suite("Byte-level prefilter")
struct PrefilterTests {
    static let prefilter = IOMMUPrefilter(catalog: .standard)
    static func wants(_ s: String) -> Bool { s.withBytes { prefilter.mightBeIOMMU($0) } }

    @Test(
        "accepts every family's words",
        arguments: [
            "DMAR: DRHD: handling fault status reg 2", "dmar: DRHD: handling fault status reg 2",
            "DRHD: handling fault status reg 3", "INTR-REMAP: Request device [[f0:1f.0] fault index 0",
            "dmar_fault: 15 callbacks suppressed", "IOMMU: dmar0: PRQ overflow detected",
            "dmar1: Invalid page request: 00000042a0000013 00007f1234567000",
            "AMD-Vi: Event logged [IO_PAGE_FAULT device=0000:06:00.0 domain=0x000e address=0xfffffff0 flags=0x0020]",
            "xhci_hcd 0000:05:00.0: Event logged [IO_PAGE_FAULT domain=0x0000 address=0x0000000092050da0 flags=0x0020]",
            "IO_PAGE_FAULT device=05:00.0 domain=0x0012 address=0x00000000ff6101b0 flags=0x0070]",
            "UNKNOWN event[0]=0x00000000 event[1]=0xb0000000 event[2]=0x00000000 event[3]=0x00000000",
            "amd_iommu_report_page_fault: 96 callbacks suppressed",
            "iommu ivhd0: AMD-Vi: Control Reg : 0xc8000000000a0f05",
            "arm-smmu-v3 9050000.smmuv3: \\x090x0000000800000010", "arm_smmu_evtq_thread: 25830 callbacks suppressed",
            "arm-smmu 15000000.iommu: Unhandled context fault: fsr=0x402, iova=0x5f900000, fsynr=0x80021, cbfrsynra=0xc00, cb=2",
            "qcom_smmu_context_fault: 3 callbacks suppressed",
            // IOMMU-core and Intel PRQ ratelimit summaries carry none of the vendor words.
            "get_domain_for_iopf: 3 callbacks suppressed", "prq_event_thread: 4 callbacks suppressed",
            "qcom-iommu-ctx 1e22000.iommu-ctx: Unhandled context fault: fsr=0x402, iova=0x00000000fffff000, fsynr=0x11, cb=2",
            "iommu ivhd0: \\x013UNKNOWN event[0]=0x00000000 event[1]=0xb0000000 event[2]=0x00000000 event[3]=0x00000000",
            "INVALID_DEVICE_REQUEST device=00:00.1 address=0x000000fdf8000020 flags=0x0a00]", "UNKNOWN type=0x0f]",
            "DMAR-IR: Enabled IRQ remapping in x2apic mode", "Command line: BOOT_IMAGE=/vmlinuz iommu=pt",
            "AMD-Vi: Found IOMMU at 0000:00:00.2 cap 0x40",
        ])
    func accepts(_ line: String) {
        #expect(Self.wants(line))
    }

    @Test(
        "rejects ordinary kernel noise",
        arguments: [
            "usb 1-1: new high-speed USB device number 2 using xhci_hcd",
            "e1000e 0000:00:19.0 eth0: NIC Link is Up 1000 Mbps Full Duplex, Flow Control: Rx/Tx",
            "audit: type=1400 audit(1700000000.000:42): apparmor=\"STATUS\" operation=\"profile_load\"",
            "EXT4-fs (sda1): mounted filesystem with ordered data mode. Quota mode: none.",
            "Out of memory: Killed process 1234 (chrome)", "NET: Registered PF_INET6 protocol family", "",
            "IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link becomes ready",
            // Words near the new ones (iopf, prq_) and other look-alikes stay out.
            "net_ratelimit: 36 callbacks suppressed", "__ext4_find_entry: 12 callbacks suppressed",
            "amdgpu 0000:03:00.0: amdgpu: [gfxhub0] no-retry page fault (src_id:0 ring:24 vmid:8 pasid:32770)",
            "BUG: unable to handle page fault for address: ffffc90000a4f000", "ACPI: _PRT_ routing table (prq)",
            "PM: suspend entry (deep)", "ACPI_BUTTON something happened", "Freeing unused kernel image memory: 2964K",
        ])
    func rejects(_ line: String) {
        #expect(!Self.wants(line))
    }

    /// Every word a family declares, derived into the prefilter: found at every offset and text
    /// length, and not found when its last byte is missing (unless what is left still holds
    /// another declared word: `arm-smmu-v` holds `smmu`).
    @Test("finds every declared word at every offset and text length", arguments: FamilyCatalog.standard.prefilterWords)
    func everyOffset(_ word: PrefilterWord) {
        let all = FamilyCatalog.standard.prefilterWords
        let text = String(decoding: word.bytes, as: UTF8.self)
        for before in 0..<40 {
            for after in [0, 1, 5, 15, 16, 17, 31, 40] {
                let line = String(repeating: "x", count: before) + text + String(repeating: "y", count: after)
                #expect(Self.wants(line), "\(before) + \(text) + \(after)")
                if word.anyCase {
                    #expect(Self.wants(line.uppercased()) && Self.wants(line.lowercased()), "\(line), any case")
                }
                let cut = String(repeating: "x", count: before) + text.dropLast() + String(repeating: "y", count: after)
                if !all.contains(where: { $0.occurs(in: cut) }) {
                    #expect(!Self.wants(cut), "\(before) + \(text.dropLast()) + \(after)")
                }
            }
        }
        for n in 0..<70 { #expect(!Self.wants(String(repeating: "ab-c_d ", count: n))) }
    }

    /// The descriptors and the prefilter agree: every record any fixture expects an output for
    /// passes it (a parser can only claim what the prefilter lets through).
    @Test("every fixture record with an output passes the prefilter")
    func fixturesPass() {
        for file in FixtureTests.files {
            let runner = FixtureRunner(name: file, text: Fixtures.read(file))
            for r in runner.records where r.expectations.contains(where: { $0.kind != "none" }) {
                guard let k = KmsgRecordParser.parse(r.raw), k.isKernel else { continue }
                let passes = k.text.withBytes { Self.prefilter.mightBeIOMMU($0) }
                #expect(passes, "\(file):\(r.line) has an output but does not pass the prefilter: \(k.text)")
            }
        }
    }
}
