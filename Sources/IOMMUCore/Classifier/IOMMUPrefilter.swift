/// The hot path's first and only test for most records.
///
/// Nine in ten kernel records have nothing to do with an IOMMU (USB, network, audit, …). This
/// check looks at the still-escaped message bytes in the read buffer and answers "could this be
/// an IOMMU message?" without allocating, decoding or copying anything; only records that pass
/// are turned into Strings and handed to the vendor parsers. It must accept every record any
/// parser handles — every vendor's messages carry one of these words in their prefix or
/// function name:
///   `dmar`/`DMAR`/`DRHD`/`INTR-REMAP` (Intel, all eras, incl. `dmar_fault: N callbacks suppressed`),
///   `iommu`/`IOMMU` (Intel PRQ `IOMMU: dmarN:`, AMD `iommu ivhdN:`, `amd_iommu_…` ratelimits,
///     qcom-iommu, boot inventory and the `intel_iommu=`/`amd_iommu=` command line),
///   `AMD-Vi`, `Event logged` (AMD 4.19.89+ per-device lines carry neither of the above),
///   `smmu`/`SMMU` (arm-smmu, arm-smmu-v3 and their ratelimited functions),
///   `iopf` (IOMMU-core page-fault functions such as `get_domain_for_iopf: N callbacks suppressed`),
///   `prq_` (Intel `prq_event_thread: N callbacks suppressed`, the only PRQ line without `dmar`).
/// One group of records carries none of them: the bodies of AMD's 4.9–4.17 split events
/// (`IO_PAGE_FAULT device=… ]` in a record of its own). Those start with the event's upper-case
/// name, which `startsWithEventName` accepts; the classifier decides whether a header is pending.
public enum IOMMUPrefilter {
    @inlinable
    public static func mightBeIOMMU(_ t: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = t.count
        guard n >= 4 else { return false }
        if startsWithEventName(t) { return true }
        var i = 0
        while i <= n - 4 {
            switch t[i] | 0x20 {
            case UInt8(ascii: "d"):
                let b1 = t[i + 1] | 0x20
                let b2 = t[i + 2] | 0x20
                let b3 = t[i + 3] | 0x20
                if b1 == UInt8(ascii: "m") && b2 == UInt8(ascii: "a") && b3 == UInt8(ascii: "r") {
                    return true
                }
                if b1 == UInt8(ascii: "r") && b2 == UInt8(ascii: "h") && b3 == UInt8(ascii: "d") {
                    return true
                }
            case UInt8(ascii: "i"):
                if i <= n - 5 && t[i + 1] | 0x20 == UInt8(ascii: "o")
                    && t[i + 2] | 0x20 == UInt8(ascii: "m")
                    && t[i + 3] | 0x20 == UInt8(ascii: "m") && t[i + 4] | 0x20 == UInt8(ascii: "u")
                {
                    return true
                }
                if t[i + 1] == UInt8(ascii: "o") && t[i + 2] == UInt8(ascii: "p")
                    && t[i + 3] == UInt8(ascii: "f")
                {
                    return true
                }
                if i <= n - 10 && t[i + 1] == UInt8(ascii: "N") && t[i + 2] == UInt8(ascii: "T")
                    && t[i + 3] == UInt8(ascii: "R") && t[i + 4] == UInt8(ascii: "-")
                {
                    return true
                }
            case UInt8(ascii: "s"):
                if t[i + 1] | 0x20 == UInt8(ascii: "m") && t[i + 2] | 0x20 == UInt8(ascii: "m")
                    && t[i + 3] | 0x20 == UInt8(ascii: "u")
                {
                    return true
                }
            case UInt8(ascii: "p"):
                if t[i + 1] == UInt8(ascii: "r") && t[i + 2] == UInt8(ascii: "q")
                    && t[i + 3] == UInt8(ascii: "_")
                {
                    return true
                }
            case UInt8(ascii: "a"):
                if i <= n - 6 && t[i] == UInt8(ascii: "A") && t[i + 1] == UInt8(ascii: "M")
                    && t[i + 2] == UInt8(ascii: "D") && t[i + 3] == UInt8(ascii: "-")
                    && t[i + 4] == UInt8(ascii: "V")
                {
                    return true
                }
            case UInt8(ascii: "e"):
                if i <= n - 12 && t[i] == UInt8(ascii: "E") && t[i + 1] == UInt8(ascii: "v")
                    && t[i + 2] == UInt8(ascii: "e") && t[i + 3] == UInt8(ascii: "n")
                    && t[i + 4] == UInt8(ascii: "t")
                    && t[i + 5] == UInt8(ascii: " ") && t[i + 6] == UInt8(ascii: "l")
                {
                    return true
                }
            default:
                break
            }
            i += 1
        }
        return false
    }

    /// One of the AMD event names `iommu_print_event()` prints (or `UNKNOWN`), then a space:
    /// an AMD event body printed in a record of its own (4.9–4.17). Other all-capitals words
    /// (`ACPI_…`, `PM_…`) are not.
    @inlinable
    public static func startsWithEventName(_ t: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        while i < t.count {
            let b = t[i]
            if b == UInt8(ascii: " ") { break }
            if (b < UInt8(ascii: "A") || b > UInt8(ascii: "Z")) && b != UInt8(ascii: "_") { return false }
            i += 1
        }
        guard i < t.count, i >= 7, i <= 23 else { return false }
        for name in amdEventNames where name.utf8CodeUnitCount == i {
            let p = name.utf8Start
            var k = 0
            while k < i && t[k] == p[k] { k += 1 }
            if k == i { return true }
        }
        return false
    }

    @usableFromInline
    static let amdEventNames: [StaticString] = [
        "ILLEGAL_DEV_TABLE_ENTRY", "IO_PAGE_FAULT", "DEV_TAB_HARDWARE_ERROR", "PAGE_TAB_HARDWARE_ERROR",
        "ILLEGAL_COMMAND_ERROR", "COMMAND_HARDWARE_ERROR", "IOTLB_INV_TIMEOUT", "INVALID_DEVICE_REQUEST",
        "INVALID_PPR_REQUEST", "RMP_PAGE_FAULT", "RMP_HW_ERROR", "UNKNOWN",
    ]
}
