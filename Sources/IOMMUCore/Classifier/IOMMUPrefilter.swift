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
    /// `dm` (dmar), `hd` (DRHD), `mm` (iommu, smmu), `r-` (INTR-), `-v` (AMD-V), `gg` (Event
    /// logged), `pf` (iopf), `q_` (prq_), both cases. Sixteen positions at a time (SIMD, SSE2 or
    /// NEON): each byte and the one before it, folded to lower case (`| 0x20`), are compared
    /// with the anchors' bytes; only a hit is checked against the whole word, and ordinary text
    /// hits an anchor rarely (`comm=` in audit records, `admin`). Texts shorter than a block go
    /// through two 256-entry tables, a byte at a time (bench/: replay throughput).
    public static func mightBeIOMMU(_ t: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = t.count
        guard n >= 4 else { return false }
        if startsWithEventName(t) { return true }
        guard n > 16 else { return scalarScan(t, from: 1) }
        let base = UnsafeRawPointer(t.baseAddress!)
        var i = 1  // the anchor's second byte
        while true {
            let hits = anchorHits(
                previous: base.loadUnaligned(fromByteOffset: i - 1, as: SIMD16<UInt8>.self),
                current: base.loadUnaligned(fromByteOffset: i, as: SIMD16<UInt8>.self))
            // Lanes are 0x00 or 0xff; as two words, a set byte k of word w is lane 8w + k
            // (`any()` and lane subscripts compile to calls and a loop here).
            let words = unsafeBitCast(hits, to: SIMD2<UInt64>.self)
            if words[0] | words[1] != 0 {
                for w in 0..<2 {
                    var m = words[w]
                    while m != 0 {
                        let bit = m.trailingZeroBitCount  // a multiple of 8
                        if wordAround(anchorEnd: i + 8 * w + bit / 8, in: t) { return true }
                        m &= ~(0xff << UInt64(bit))
                    }
                }
            }
            if i + 16 == n { return false }
            // The last block ends at the end of the text, overlapping the one before (a lane
            // tested twice only costs a second look at a hit).
            i = min(i + 16, n - 16)
        }
    }

    /// A byte at a time through two 256-entry tables: texts too short for one block.
    static func scalarScan(_ t: UnsafeBufferPointer<UInt8>, from first: Int) -> Bool {
        anchorTables.withUnsafeBufferPointer { tables in
            // tables[0..<256]: the anchors a byte can start; tables[256...]: those it can end.
            let starts = tables.baseAddress!
            let ends = starts + 256
            var previous = starts[Int(t[first - 1])]
            var i = first
            while i < t.count {
                let b = Int(t[i])
                if previous & ends[b] != 0, wordAround(anchorEnd: i, in: t) { return true }
                previous = starts[b]
                i += 1
            }
            return false
        }
    }

    /// Lane k set: an anchor ends at `current[k]` (after `previous[k]`).
    @inline(__always)
    static func anchorHits(previous: SIMD16<UInt8>, current: SIMD16<UInt8>) -> SIMDMask<SIMD16<Int8>> {
        let fold = SIMD16<UInt8>(repeating: 0x20)
        let p = previous | fold
        let c = current | fold
        @inline(__always) func eq(_ v: SIMD16<UInt8>, _ b: UInt8) -> SIMDMask<SIMD16<Int8>> {
            v .== SIMD16(repeating: b)
        }
        let cm = eq(c, 0x6d)  // m
        let cd = eq(c, 0x64)  // d
        return (eq(p, 0x64) .& cm) .| (eq(p, 0x68) .& cd) .| (eq(p, 0x6d) .& cm)  // dm hd mm
            .| (eq(p, 0x72) .& eq(c, 0x2d)) .| (eq(p, 0x2d) .& eq(c, 0x76))  // r- -v
            .| (eq(p, 0x67) .& eq(c, 0x67)) .| (eq(p, 0x70) .& eq(c, 0x66))  // gg pf
            .| (eq(p, 0x71) .& eq(c, 0x7f))  // q_ (`_` | 0x20)
    }

    /// The anchors (first byte, second byte), each bit of the tables one anchor.
    static let anchors: [(UInt8, UInt8)] = [
        (UInt8(ascii: "d"), UInt8(ascii: "m")), (UInt8(ascii: "h"), UInt8(ascii: "d")),
        (UInt8(ascii: "m"), UInt8(ascii: "m")), (UInt8(ascii: "r"), UInt8(ascii: "-")),
        (UInt8(ascii: "-"), UInt8(ascii: "v")), (UInt8(ascii: "g"), UInt8(ascii: "g")),
        (UInt8(ascii: "p"), UInt8(ascii: "f")), (UInt8(ascii: "q"), UInt8(ascii: "_")),
    ]

    /// 256 bytes of "anchors this byte may start", then 256 of "anchors it may end", both
    /// cases of each letter set.
    static let anchorTables: [UInt8] = {
        var t = [UInt8](repeating: 0, count: 512)
        for (bit, (first, second)) in anchors.enumerated() {
            for c in Set([first, first.lowercasedASCII, first.uppercasedASCII]) { t[Int(c)] |= 1 << bit }
            for c in Set([second, second.lowercasedASCII, second.uppercasedASCII]) { t[256 + Int(c)] |= 1 << bit }
        }
        return t
    }()

    /// Is the word an anchor belongs to really there? `i` is the index of the anchor's second byte.
    static func wordAround(anchorEnd i: Int, in t: UnsafeBufferPointer<UInt8>) -> Bool {
        let pair = UInt16(t[i - 1] | 0x20) << 8 | UInt16(t[i] | 0x20)
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
        case 0x717f: return at(i - 3, "prq_", fold: false)
        default: return false
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

extension UInt8 {
    var lowercasedASCII: UInt8 { self >= 0x41 && self <= 0x5a ? self | 0x20 : self }
    var uppercasedASCII: UInt8 { self >= 0x61 && self <= 0x7a ? self & ~0x20 : self }
}
