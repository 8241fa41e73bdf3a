// Unsafe pointers here: byte-level record parser over the record's bytes (ByteScanner).

extension Vendor {
    public static let qcomIOMMU = Vendor(rawValue: "qcom-iommu")
}

/// Qualcomm's firmware-managed SMMU driver (drivers/iommu/qcom_iommu.c v4.14+, under
/// drivers/iommu/arm/arm-smmu/ since 5.10; msm8916/msm8953/msm8974) — kernel-formats.md §11.8.
/// A driver of its own beside arm-smmu.c: one device per context bank, no StreamID, no global
/// faults, its own interrupt name.
public enum QcomIOMMU {
    public static let descriptor = FamilyDescriptor(
        vendor: .qcomIOMMU, displayName: "Qualcomm IOMMU (qcom_iommu)",
        words: ["qcom-iommu", "qcom_iommu"], namingWords: ["qcom-iommu", "qcom_iommu"],
        ratelimitedFunctions: ["qcom_iommu_fault"],
        // qcom_iommu_ctx_probe(): devm_request_irq(dev, irq, qcom_iommu_fault, IRQF_SHARED,
        // "qcom-iommu-fault", ctx) — one per context bank.
        interrupts: [.fixed("qcom-iommu-fault", vector: "context")],
        otherKinds: ["context-fault"], drivers: ["qcom-iommu", "qcom-iommu-ctx"])

    public static let family = FamilyCatalog.Family(descriptor) { _ in QcomIOMMUParser() }
}

/// `qcom_iommu_fault()` (verified): `dev_err_ratelimited(ctx->dev, "Unhandled context fault:
/// fsr=0x%x, " "iova=0x%016llx, fsynr=0x%x, cb=%d\n", fsr, iova, fsynr, ctx->asid)` — printed
/// unconditionally in 4.14, later only when `report_iommu_fault()` returns 0 (the test is
/// inverted upstream: with no domain handler nothing is printed). The prefix is the context
/// bank's device (`qcom-iommu-ctx 1f09000.iommu-ctx: `): the unit. `cb` is the ASID, not a
/// StreamID. FSR/FSYNR0 decode as for arm-smmu (ArmSMMUv2Lines.contextFault).
///
/// RECOVERABLE (kernel-formats.md §8.1): never, whatever FSR.SS says — the banks are set to
/// stall (SCTLR.CFCFG) but every fault is resumed with RESUME_TERMINATE.
struct QcomIOMMUParser: LineFamilyParser {
    mutating func consume(_ r: KmsgRecord, into out: inout [ClassifierOutput]) -> Bool {
        r.text.withBytes { b in
            var s = ByteScanner(b)
            guard let unit = s.devicePrefix(driver: ["qcom-iommu-ctx"]), s.skip("Unhandled context fault: ") else {
                return false
            }
            guard var f = ArmSMMUv2Lines.contextFault(&s, unit: unit, record: r) else {
                out.append(.unparsed(vendor: .qcomIOMMU, text: r.text, seq: r.seq))
                return true
            }
            f.vendor = .qcomIOMMU
            f.recoverable = false
            f.sourceID = nil
            out.append(.fault(f))
            return true
        }
    }
}
