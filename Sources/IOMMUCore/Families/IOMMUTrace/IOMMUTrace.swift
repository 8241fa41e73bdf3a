// Unsafe pointers here: byte-level record parser over the record's bytes (ByteScanner).

extension Vendor {
    public static let iommuTrace = Vendor(rawValue: "iommu-trace")
}

/// The IOMMU core's `iommu:io_page_fault` trace event as tracefs prints it (kernel-formats.md §4.2),
/// pasted from a trace (`/sys/kernel/tracing/trace`, `trace_pipe`, `trace-cmd report`) into a log
/// that `iommud replay` reads. Not a kernel log line: no driver prints it, and the kernel log of
/// the same fault (AMD `Event logged [IO_PAGE_FAULT …]`, an SMMUv2 context fault, …) is counted by
/// its own family — a log that holds both counts the fault twice, which is why these faults have a
/// vendor of their own.
public enum IOMMUTrace {
    public static let descriptor = FamilyDescriptor(
        vendor: .iommuTrace, displayName: "IOMMU core trace event (io_page_fault)",
        // `IOMMU:` in the event's text passes the core word `iommu`; the event name names it.
        words: ["io_page_fault: IOMMU:"], namingWords: ["io_page_fault: IOMMU:"],
        otherKinds: ["io-page-fault"])

    public static let family = FamilyCatalog.Family(descriptor) { _ in IOMMUTraceParser() }
}

/// `TP_printk("IOMMU:%s %s iova=0x%016llx flags=0x%04x", driver, device, iova, flags)`
/// (include/trace/events/iommu.h, event class `iommu_error`), after tracefs's own
/// `<task>-<pid> [<cpu>] <flags> <timestamp>: io_page_fault: `. Fired by `report_iommu_fault()`
/// (AMD ~5.16+, SMMUv2, qcom_iommu, msm, mtk, rockchip, exynos, ipmmu, …; never Intel VT-d or
/// SMMUv3): the driver first, then the device (`dev_name()`, a PCI function or a platform
/// device's name), the IOVA, and the flags (`IOMMU_FAULT_WRITE` 0x1; Qualcomm drivers add
/// private bits above it). The IOMMU unit is not named.
///
/// RECOVERABLE (kernel-formats.md §8.1): never — `report_iommu_fault()` is the unrecoverable path
/// (recoverable faults go through `iommu_report_device_fault()`, which this event does not see).
struct IOMMUTraceParser: LineFamilyParser {
    mutating func consume(_ r: KmsgRecord, into out: inout [ClassifierOutput]) -> Bool {
        r.text.withBytes { b in
            var s = ByteScanner(b)
            guard let at = s.find("io_page_fault: IOMMU:") else { return false }
            s.position = at + "io_page_fault: IOMMU:".utf8.count
            guard let driver = s.word(), s.skip(" "), let device = s.word(), s.skip(" iova=0x"),
                let iova = s.hex(maxDigits: 16), s.skip(" flags=0x"), let flags = s.hex(maxDigits: 8),
                s.atEndIgnoringSpaces
            else {
                out.append(.unparsed(vendor: .iommuTrace, text: r.text, seq: r.seq))
                return true
            }
            var f = Fault(
                .iommuTrace, "io-page-fault", unit: nil, address: iova, access: flags & 0x1 != 0 ? .write : .read,
                record: r)
            if let pci = PCIAddress(parsing: device), pci.description == device {
                f.device = pci
            } else {
                f.master = device
            }
            f.driver = driver
            f.reasonText = "IOMMU fault reported to the IOMMU core (report_iommu_fault)"
            f.detail = "flags " + hex0x(flags, width: 4)
            out.append(.fault(f))
            return true
        }
    }
}
