// Unsafe pointers here: byte-level record parser over the record's bytes (ByteScanner).

extension Vendor {
    public static let riscvIOMMU = Vendor(rawValue: "riscv-iommu")
}

/// The RISC-V IOMMU (drivers/iommu/riscv/, v6.13+) — kernel-formats.md §11.12.
public enum RISCVIOMMU {
    public static let descriptor = FamilyDescriptor(
        vendor: .riscvIOMMU, displayName: "RISC-V IOMMU",
        // The platform driver `riscv,iommu` (iommu-platform.c); the PCI front end iommu-pci.c is
        // `.name = KBUILD_MODNAME`: `iommu_pci`.
        words: ["riscv,iommu", "riscv_iommu"], namingWords: ["riscv,iommu", "riscv_iommu", "riscv-iommu"],
        ratelimitedFunctions: ["riscv_iommu_fault"],
        // riscv_iommu_queue_enable(): request_threaded_irq(irq, riscv_iommu_queue_ipsr, …,
        // IRQF_ONESHOT | IRQF_SHARED, dev_name(iommu->dev), queue) — every queue's vector under
        // the IOMMU's name (command, fault, performance-monitoring, page-request).
        interrupts: [.unitDevice(vector: "shared")],
        otherKinds: [
            "access-fault", "misaligned", "page-fault", "guest-page-fault", "all-inbound-disallowed", "ddt-fault",
            "transaction-type-disallowed", "msi-fault", "pdt-fault", "data-corruption", "internal-error",
            "unknown-fault",
        ],
        drivers: ["riscv,iommu", "iommu_pci"])

    public static let family = FamilyCatalog.Family(descriptor) { _ in RISCVIOMMUParser() }
}

/// `riscv_iommu_fault()` (verified): `dev_warn_ratelimited(iommu->dev, "Fault %d devid: 0x%x
/// iotval: %llx iotval2: %llx\n", err, devid, iotval, iotval2)` — level 4, the cause in decimal,
/// iotval and iotval2 in hex WITHOUT `0x`. `riscv_iommu_fltq_process()`: `"Queue #%u error;
/// memory fault:%d overflow:%d\n"`; `riscv_iommu_cmdq_process()`: `"Queue #%u error; fault:%d
/// timeout:%d illegal:%d fence_w_ip:%d\n"`. Causes (RISC-V IOMMU specification, fault-queue
/// record CAUSE) name the kind; for causes below 24 iotval is the faulting address. `devid`
/// (for PCI: segment << 16 | requester id) is the StreamID.
///
/// RECOVERABLE (kernel-formats.md §8.1): never — mainline does not service the page-request
/// queue; the fault queue only reports.
struct RISCVIOMMUParser: LineFamilyParser {
    static func kind(cause c: UInt32) -> FaultKind {
        switch c {
        case 1, 5, 7: return "access-fault"
        case 0, 4, 6: return "misaligned"
        case 12, 13, 15: return "page-fault"
        case 20, 21, 23: return "guest-page-fault"
        case 256: return "all-inbound-disallowed"
        case 257...259: return "ddt-fault"
        case 260: return "transaction-type-disallowed"
        case 261...264, 273: return "msi-fault"
        case 265...267: return "pdt-fault"
        case 268...271, 274: return "data-corruption"
        case 272: return "internal-error"
        default: return "unknown-fault"
        }
    }

    static func access(cause c: UInt32) -> Access? {
        switch c {
        case 4, 5, 13, 21: return .read
        case 6, 7, 15, 23: return .write
        default: return nil
        }
    }

    mutating func consume(_ r: KmsgRecord, into out: inout [ClassifierOutput]) -> Bool {
        r.text.withBytes { b in
            var s = ByteScanner(b)
            guard let unit = s.devicePrefix(driver: ["riscv,iommu", "iommu_pci"]) else { return false }
            if s.skip("Fault ") {
                guard let cause = s.decimal32(), s.skip(" devid: "), let devid = s.hex0x(), devid <= 0xffff_ffff,
                    s.skip(" iotval: "), let iotval = s.hex(), s.skip(" iotval2: "), let iotval2 = s.hex(),
                    s.atEndIgnoringSpaces
                else {
                    out.append(.unparsed(vendor: .riscvIOMMU, text: r.text, seq: r.seq))
                    return true
                }
                var f = Fault(
                    .riscvIOMMU, Self.kind(cause: cause), unit: unit, address: cause < 24 ? iotval : nil,
                    access: Self.access(cause: cause), record: r)
                f.sourceID = UInt32(devid)
                f.reasonText = "Cause \(cause)"
                f.detail = "iotval " + hex0x(iotval) + ", iotval2 " + hex0x(iotval2)
                out.append(.fault(f))
                return true
            }
            if s.skip("Queue #") {
                guard let queue = s.decimal32(), s.skip(" error; ") else { return false }
                if s.skip("memory fault:"), s.decimal() != nil, s.skip(" overflow:"), let overflow = s.decimal(),
                    overflow != 0
                {
                    out.append(.marker(.overflow(vendor: .riscvIOMMU, unit: unit, log: "fq"), of: r))
                } else {
                    let what = queue == 0 ? "cmdq-error" : "queue-error"
                    out.append(.marker(.unitError(vendor: .riscvIOMMU, unit: unit, what: what), of: r))
                }
                return true
            }
            return false
        }
    }
}
