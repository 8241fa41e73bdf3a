/// `<function>: N callbacks suppressed` (lib/ratelimit.c, KERN_WARNING, no pr_fmt prefix).
/// It counts *messages* the kernel dropped, not faults, and arrives late: when the next message
/// of that call site is allowed. The function name says which family it belongs to.
enum RatelimitParser {
    static let families: [String: Vendor] = [
        // Intel: one static state in dmar_fault() covers every unit (c43fce4eebae, v4.7); the PRQ
        // overflow lines are pr_info_ratelimited in prq_event_thread().
        "dmar_fault": .intel, "prq_event_thread": .intel, "handle_bad_prq_event": .intel,
        // AMD: per device in report_page_fault, per call site elsewhere.
        "amd_iommu_report_page_fault": .amd, "iommu_print_event": .amd, "amd_iommu_int_thread": .amd,
        "amd_iommu_int_thread_evtlog": .amd, "amd_iommu_int_thread_pprlog": .amd,
        "amd_iommu_int_thread_galog": .amd, "iommu_poll_events": .amd, "iommu_poll_ppr_log": .amd,
        "amd_iommu_report_rmp_fault": .amd, "amd_iommu_report_rmp_hw_error": .amd,
        "iommu_handle_ppr_entry": .amd, "amd_iommu_handle_ppr_log": .amd,
        "iommu_call_iopf_notifier": .amd,
        // 6.6+ init.c amd_iommu_restart_log(); the 6.5 stable GA-log backport.
        "amd_iommu_restart_log": .amd, "amd_iommu_restart_ga_log": .amd,
        // SMMUv3: the event-queue thread's static state (~5.13), the 6.14+ dump helper.
        "arm_smmu_evtq_thread": .armSMMUv3, "arm_smmu_priq_thread": .armSMMUv3,
        "arm_smmu_dump_event": .armSMMUv3, "arm_smmu_handle_evt": .armSMMUv3,
        "arm_smmu_decode_event": .armSMMUv3, "arm_smmu_handle_ppr": .armSMMUv3,
        // SMMUv2 and the Qualcomm variants.
        "arm_smmu_context_fault": .armSMMU, "arm_smmu_global_fault": .armSMMU,
        "qcom_smmu_context_fault": .armSMMU, "qcom_iommu_fault": .armSMMU,
        "arm_smmu_print_context_fault_info": .armSMMU,
    ]

    /// nil when the record is not a ratelimit line; `.none` output when it is one of a function
    /// that has nothing to do with an IOMMU.
    static func consume(_ r: KmsgRecord, into out: inout [ClassifierOutput]) -> Bool {
        r.text.withBytes { b in
            var s = ByteScanner(b)
            let name = s.token(until: UInt8(ascii: ":"))
            guard !name.isEmpty, s.skip(": "), let count = s.decimal(), s.skip(" callbacks suppressed")
            else {
                return false
            }
            s.skipSpaces()
            guard s.isAtEnd else { return false }
            for i in name {
                let c = b[i]
                guard
                    c == UInt8(ascii: "_") || (c | 0x20 >= UInt8(ascii: "a") && c | 0x20 <= UInt8(ascii: "z"))
                        || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
                else { return false }
            }
            let function = s.string(name)
            if let vendor = families[function] {
                out.append(.marker(.suppressed(source: function, vendor: vendor, count: count), seq: r.seq))
            } else if function.contains("iommu") || function.contains("smmu") || function.contains("dmar")
                || function.contains("iopf")
            {
                // IOMMU-core functions of no single vendor (io-pgfault.c `get_domain_for_iopf`, …).
                out.append(.marker(.suppressed(source: function, vendor: nil, count: count), seq: r.seq))
            }
            return true
        }
    }
}
