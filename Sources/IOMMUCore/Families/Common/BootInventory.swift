// Unsafe pointers here: byte-level record parser over the record's bytes (ByteScanner).

/// Platform facts printed at boot — kernel-formats.md §9 "boot inventory", Fixtures
/// common/boot-inventory.txt. Only lines that state something the daemon uses become
/// inventory; every other boot line of the IOMMU drivers gives nothing (never `unparsed`).
///
/// Sources:
/// * drivers/iommu/intel/dmar.c `alloc_iommu()`: `pr_info("%s: reg_base_addr %llx ver %d:%d
///   cap %llx ecap %llx\n")` (3.x–4.0 with the `dmar: ` pr_fmt: `"IOMMU %d: reg_base_addr …"`,
///   iommu->seq_id → `dmar<seq_id>`); `dmar_table_print_dmar_entry()`: `pr_info("RMRR base:
///   %#016Lx end: %#016Lx\n")`.
/// * intel/iommu.c `intel_iommu_setup()`: `pr_info("IOMMU enabled\n")` / `"IOMMU disabled\n"`
///   (pr_fmt `DMAR: `); before the pr_fmt cleanup (≤ ~4.0, drivers/pci/intel-iommu.c and
///   drivers/iommu/intel-iommu.c) `printk(KERN_INFO "Intel-IOMMU: enabled\n")` / `"…: disabled\n"`.
/// * intel/irq_remapping.c: `pr_info("Enabled IRQ remapping in %s mode\n")` (pr_fmt `DMAR-IR: `).
/// * drivers/iommu/iommu.c `iommu_subsys_init()`: `"Default domain type: %s%s\n"` (pr_fmt
///   `iommu: `) — Passthrough is a fact, Translated the default.
/// * amd/init.c: `pr_info("Found IOMMU at %s cap 0x%hx\n")` (≤ 4.x), later `pci_info(pdev,
///   "Found IOMMU cap 0x%x\n")`; `pr_info("Interrupt remapping enabled\n")`.
/// * arm-smmu-v3.c `arm_smmu_device_hw_probe()`: `dev_info("ias %lu-bit, oas %lu-bit (features
///   0x%08x)\n")` — the unit exists (features → `cap`).
/// * `Kernel command line: …` / `Command line: …` (init/main.c, arch/x86/kernel/setup.c):
///   inventory only when it holds a switch that decides the IOMMU mode (`iommu=pt|nopt|off`,
///   `iommu.passthrough=`, `intel_iommu=off|…pt…`, `amd_iommu=off`) — the switches
///   `PlatformSummary.CommandLineHints` reads. A command line that only enables the IOMMU or
///   sets its invalidation policy (`intel_iommu=on iommu.strict=1`) states nothing the boot log
///   does not say better (`DMAR: IOMMU enabled`) and is an ordinary boot line (common/noise.txt).
enum BootInventoryParser {
    static func consume(_ r: KmsgRecord, into out: inout [ClassifierOutput]) -> Bool {
        guard let item = r.text.withBytes({ item(ByteScanner($0), record: r) }) else { return false }
        out.append(.inventory(item, seq: r.seq))
        return true
    }

    static func item(_ s0: ByteScanner, record r: KmsgRecord) -> InventoryItem? {
        var s = s0
        if s.skip("DMAR: ") || s.skip("dmar: ") {
            if s.skip("IOMMU enabled") && s.atEndIgnoringSpaces { return .iommuEnabled(.intel) }
            if s.skip("IOMMU disabled") && s.atEndIgnoringSpaces {
                return .iommuDisabled(.intel, reason: "intel_iommu=off")
            }
            if s.skip("RMRR base: "), let start = s.hexOptionalPrefix(), s.skip(" end: "),
                let end = s.hexOptionalPrefix()
            {
                return .rmrr(start: start, end: end)
            }
            return intelUnit(&s)
        }
        if s.skip("Intel-IOMMU: ") {
            if s.skip("enabled") && s.atEndIgnoringSpaces { return .iommuEnabled(.intel) }
            if s.skip("disabled") && s.atEndIgnoringSpaces { return .iommuDisabled(.intel, reason: "intel_iommu=off") }
            return nil
        }
        if s.skip("DMAR-IR: Enabled IRQ remapping in ") {
            let mode = s.token(until: 0x20)
            guard !mode.isEmpty, s.skip(" mode") else { return nil }
            return .interruptRemapping(mode: s.string(mode))
        }
        if s.skip("iommu: Default domain type: Passthrough") {
            return .passthrough(source: "default domain type" + (s.isAtEnd ? "" : s.rest))
        }
        if s.skip("Kernel command line: ") || s.skip("Command line: ") {
            let line = s.rest
            let hints = PlatformSummary.CommandLineHints(line)
            guard hints.off != nil || hints.passthrough != nil || hints.translated != nil else {
                return nil
            }
            return .commandLine(line)
        }
        // `<driver> <devname>: ` prefixed lines: AMD `pci 0000:00:00.2: AMD-Vi: Found IOMMU cap`, SMMUv3 ias.
        var device: PCIAddress?
        if let dp = DevicePrefix.scan(&s) {
            if s.bytesEqual(dp.driver, "arm-smmu-v3") {
                guard s.skip("ias "), s.decimal() != nil, s.skip("-bit, oas "), s.decimal() != nil,
                    s.skip("-bit")
                else { return nil }
                let features = s.skip(" (features ") ? s.hexOptionalPrefix() : nil
                return .unit(
                    vendor: .armSMMUv3, name: s.string(dp.device), address: nil, version: nil, cap: features,
                    ecap: nil)
            }
            var d = ByteScanner(UnsafeBufferPointer(rebasing: s.bytes[dp.device]))
            device = PCIAddress.scan(&d)
            if !d.isAtEnd { device = nil }
        }
        guard s.skip("AMD-Vi: ") else { return nil }
        if s.skip("Interrupt remapping enabled") { return .interruptRemapping(mode: "enabled") }
        guard s.skip("Found IOMMU ") else { return nil }
        if s.skip("at ") {
            device = PCIAddress.scan(&s)
            guard device != nil, s.skip(byte: 0x20) else { return nil }
        }
        guard s.skip("cap "), let cap = s.hexOptionalPrefix() else { return nil }
        return .amdFound(device: device, cap: cap)
    }

    /// `dmarN: reg_base_addr %llx ver %d:%d cap %llx ecap %llx` or 3.x `IOMMU N: reg_base_addr …`.
    static func intelUnit(_ s: inout ByteScanner) -> InventoryItem? {
        let name: String
        if s.skip("IOMMU ") {
            guard let n = s.decimal() else { return nil }
            name = "dmar\(n)"
        } else {
            let start = s.position
            guard s.skip("dmar"), s.decimal() != nil else { return nil }
            name = s.string(start..<s.position)
        }
        guard s.skip(": reg_base_addr "), let base = s.hex(), s.skip(" ver "), let major = s.decimal(),
            s.skip(byte: UInt8(ascii: ":")), let minor = s.decimal(), s.skip(" cap "), let cap = s.hex(),
            s.skip(" ecap "), let ecap = s.hex()
        else { return nil }
        return .unit(
            vendor: .intel, name: name, address: base, version: "\(major):\(minor)", cap: cap, ecap: ecap)
    }
}
