/// Intel VT-d Page Request Queue lines — the RECOVERABLE path (kernel-formats.md §1.8, §8.1):
/// every fault built here is `kind: page-request, recoverable: true` — the device asked for a
/// page and waits for the answer; well-formed requests are never logged, only malformed ones
/// and overflow.
///
/// Sources: drivers/iommu/intel-svm.c (4.4–5.7), intel/svm.c (5.8–~6.12), intel/prq.c
/// (~6.13+), `prq_event_thread()` / `handle_bad_prq_event()`. No `DMAR: ` pr_fmt here:
/// * 4.x: `"%s: Page request without PASID: %08llx %08llx\n"`, `"%s: Page request for invalid
///   PASID %d: %08llx %08llx\n"` (PASID decimal) — complete faults.
/// * 5.x+: `"IOMMU: %s: Page request without PASID\n"`, `"IOMMU: %s: Address is not
///   canonical\n"`, `"… Page request in Privilege Mode\n"`, `"… Execution request not
///   supported\n"` explain the `"%s: Invalid page request: %08llx %08llx\n"` line that
///   `handle_bad_prq_event()` prints right after for the same request: that line carries the
///   fault (one bad request, one output).
/// * `pr_info_ratelimited("IOMMU: %s: PRQ overflow detected\n")` → overflow marker (log prq);
///   `"IOMMU: %s: PRQ overflow cleared"` → nothing.
/// The `Invalid page request` words are a `struct page_req_dsc` (union layout of the same
/// kernels: qw0 type[7:0], pasid_present[8], rid[31:16], pasid[51:32]; qw1 rd[0], wr[1],
/// addr[63:12]) and are decoded; the 4.x words used an older layout and are left alone.
enum IntelPageRequest {
    static func looksLikePRQ(_ s: ByteScanner) -> Bool {
        var t = s
        _ = t.skip("IOMMU: ")
        guard t.skip("dmar"), t.decimal() != nil, t.skip(": ") else { return false }
        return t.looksAt("Page request") || t.looksAt("Invalid page request: ")
            || t.looksAt("Address is not canonical")
            || t.looksAt("Execution request not supported") || t.looksAt("PRQ overflow ")
    }

    /// What `handle_bad_prq_event()`'s line says (the reason text of its fault).
    static let invalidRequest = "Invalid page request"

    /// The `dmarN` a page-request line names (cursor at the line, after any pr_fmt prefix).
    static func unitName(_ s: ByteScanner) -> String? {
        var t = s
        _ = t.skip("IOMMU: ")
        let start = t.position
        guard t.skip("dmar"), t.decimal() != nil else { return nil }
        return t.string(start..<t.position)
    }

    /// A 5.x+ reason line (`IOMMU: dmarN: Address is not canonical`, `… Page request in Privilege
    /// Mode`, `… Execution request not supported`; `… Page request without PASID` only at
    /// `pr_err` level — the later `pr_info` form is followed by normal handling, nothing failed):
    /// the page request it names was refused, whatever follows. Its fault, to hold for the
    /// `Invalid page request` line that `goto bad_req` prints next (which then carries it), or to
    /// count alone, `partial`, when that line never comes.
    static func reasonLine(_ s: ByteScanner, record r: KmsgRecord) -> Fault? {
        var t = s
        guard t.skip("IOMMU: "), let unit = unitName(t), t.skip("dmar"), t.decimal() != nil, t.skip(": ")
        else { return nil }
        let reason: String
        if t.looksAt("Address is not canonical") {
            reason = "Address is not canonical"
        } else if t.looksAt("Page request in Privilege Mode") {
            reason = "Page request in Privilege Mode"
        } else if t.looksAt("Execution request not supported") {
            reason = "Execution request not supported"
        } else if t.looksAt("Page request without PASID"), t.remaining <= "Page request without PASID".utf8.count + 1,
            r.level <= 3
        {
            reason = "Page request without PASID"
        } else {
            return nil
        }
        var f = Fault(
            vendor: .intel, kind: .pageRequest, recoverable: true, unit: unit, seq: r.seq,
            timestampUsec: r.timestampUsec, text: r.text)
        f.reasonText = reason
        return f
    }

    static func consume(
        _ s: inout ByteScanner, record r: KmsgRecord, into out: inout [ClassifierOutput]
    ) -> Bool {
        guard looksLikePRQ(s) else { return false }
        let iommuPrefix = s.skip("IOMMU: ")
        let unitStart = s.position
        _ = s.skip("dmar")
        _ = s.decimal()
        let unit = s.string(unitStart..<s.position)
        _ = s.skip(": ")
        var f = Fault(
            vendor: .intel, kind: .pageRequest, recoverable: true, unit: unit, seq: r.seq,
            timestampUsec: r.timestampUsec,
            text: r.text)
        if s.skip("PRQ overflow ") {
            if s.looksAt("detected") {
                out.append(.marker(.overflow(vendor: .intel, unit: unit, log: "prq"), of: r))
            }
            return true
        }
        if iommuPrefix {
            // 5.x+ reason lines: the `Invalid page request` line after them carries the fault.
            return true
        }
        if s.skip("Invalid page request: ") {
            guard let qw0 = s.hex(), s.skip(byte: 0x20), let qw1 = s.hex(), s.atEndIgnoringSpaces else {
                return false
            }
            decodeDescriptor(&f, qw0: qw0, qw1: qw1)
            f.reasonText = invalidRequest
            out.append(.fault(f))
            return true
        }
        if s.skip("Page request without PASID: ") {
            guard s.hex() != nil, s.skip(byte: 0x20), s.hex() != nil else { return false }
            f.reasonText = "Page request without PASID"
            out.append(.fault(f))
            return true
        }
        if s.skip("Page request for invalid PASID ") {
            guard let pasid = s.decimal(), pasid <= UInt64(UInt32.max), s.skip(": ") else { return false }
            f.pasid = UInt32(pasid)
            f.reasonText = "Page request for invalid PASID"
            out.append(.fault(f))
            return true
        }
        return false
    }

    static func decodeDescriptor(_ f: inout Fault, qw0: UInt64, qw1: UInt64) {
        let rid = UInt16(truncatingIfNeeded: qw0 >> 16)
        f.sourceID = UInt32(rid)
        f.device = PCIAddress(requesterID: rid)
        if qw0 & 0x100 != 0 { f.pasid = UInt32(truncatingIfNeeded: (qw0 >> 32) & 0xfffff) }
        f.address = qw1 & ~0xfff
        let rd = qw1 & 0x1 != 0
        let wr = qw1 & 0x2 != 0
        if rd != wr { f.access = wr ? .write : .read }
        f.detail = "qw0 " + hex0x(qw0) + ", qw1 " + hex0x(qw1)
    }
}
