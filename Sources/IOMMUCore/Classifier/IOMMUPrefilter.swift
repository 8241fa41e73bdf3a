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
    /// Finds the words through rare two-byte anchors instead of testing every common letter:
    /// each byte pair (case folded) is looked up in a 64 Ki-bit table of the anchors — `dm`
    /// (dmar), `hd` (DRHD), `mm` (iommu, smmu), `r-` (INTR-), `-v` (AMD-V), `gg` (Event logged),
    /// `pf` (iopf), `q_` (prq_) — and only a hit is checked against the whole word. Ordinary text
    /// hits an anchor rarely (`comm=` in audit records, `admin`), so the common case is one load
    /// and one test per byte (bench/: replay throughput).
    public static func mightBeIOMMU(_ t: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = t.count
        guard n >= 4 else { return false }
        if startsWithEventName(t) { return true }
        let table = anchorTable
        var previous = UInt16(t[0] | 0x20)
        var i = 1
        while i < n {
            let current = UInt16(t[i] | 0x20)
            let pair = previous << 8 | current
            previous = current
            if table[Int(pair >> 6)] & (1 << (pair & 63)) != 0, wordAround(anchorEnd: i, pair: pair, in: t) {
                return true
            }
            i += 1
        }
        return false
    }

    /// The anchor's pairs, case-folded the way `mightBeIOMMU` folds bytes (`| 0x20`).
    static let anchors: [(UInt8, UInt8)] = [
        (0x64, 0x6d), (0x68, 0x64), (0x6d, 0x6d), (0x72, 0x2d), (0x2d, 0x76), (0x67, 0x67), (0x70, 0x66),
        (0x71, 0x5f | 0x20),
    ]

    static let anchorTable: [UInt64] = {
        var t = [UInt64](repeating: 0, count: 1024)
        for (a, b) in anchors {
            let pair = UInt16(a) << 8 | UInt16(b)
            t[Int(pair >> 6)] |= 1 << (pair & 63)
        }
        return t
    }()

    /// Is the word an anchor belongs to really there? `i` is the index of the anchor's second byte.
    static func wordAround(anchorEnd i: Int, pair: UInt16, in t: UnsafeBufferPointer<UInt8>) -> Bool {
        /// `word` (case-insensitive when `fold`) starts at `start`.
        func at(_ start: Int, _ word: StaticString, fold: Bool) -> Bool {
            let count = word.utf8CodeUnitCount
            guard start >= 0, start + count <= t.count else { return false }
            let w = word.utf8Start
            for k in 0..<count {
                let b = fold ? t[start + k] | 0x20 : t[start + k]
                if b != w[k] { return false }
            }
            return true
        }
        switch pair {
        case 0x646d: return at(i - 1, "dmar", fold: true)
        case 0x6864: return at(i - 3, "drhd", fold: true)
        case 0x6d6d: return at(i - 3, "iommu", fold: true) || at(i - 2, "smmu", fold: true)
        case 0x722d: return at(i - 4, "INTR-", fold: false)
        case 0x2d76: return at(i - 4, "AMD-V", fold: false)
        case 0x6767: return at(i - 9, "Event logged", fold: false)
        case 0x7066: return at(i - 3, "iopf", fold: false)
        default: return at(i - 3, "prq_", fold: false)
        }
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
