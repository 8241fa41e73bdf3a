/// Intel VT-d invalidation-queue errors (IQE / ITE / ICE), kernel-formats.md §1.7.
/// `kind: invalidation-error`, `recoverable: false` (an invalidation that failed is not a DMA
/// that can be retried — §8.1, decided here).
///
/// Sources (drivers/iommu/dmar.c, drivers/iommu/intel/dmar.c from v5.8):
/// * ≤ ~4.19 `qi_check_fault()`: `pr_err("VT-d detected invalid descriptor: " "low=%llx,
///   high=%llx\n")`; ITE and ICE were cleared and retried silently.
/// * ~4.20–5.12 (256-bit descriptors): `"VT-d detected invalid descriptor: qw0 = %llx, qw1 = %llx\n"`.
/// * 5.13+ `qi_dump_fault()` (Lu Baolu, "iommu/vt-d: Report more information about invalidation
///   errors"): `"VT-d detected Invalidation Queue Error: Reason %llx"`, `"… Time-out Error: SID
///   %llx"`, `"… Completion Error: SID %llx"` (no `\n`, each still its own record), then
///   `"QI HEAD: %s qw0 = 0x%llx, qw1 = 0x%llx\n"`, `"QI PRIOR: …"` and, in `qi_check_fault()`,
///   `"Invalidation Queue Error (IQE) cleared\n"` etc. — detail lines, no output.
/// The SID is the raw 16-bit requester id (IQER bits 47:32), hex without 0x; 0 means "not
/// recorded" (old hardware) and ffff is what VMD-hidden devices report: no device for either.
/// Owner (§8.2): IQE = the driver submitted an invalid descriptor → iommu-driver; ITE/ICE depend
/// on the device's ATS behaviour (device or firmware) → left open.
enum IntelQueuedInvalidation {
    static func looksLikeQI(_ s: ByteScanner) -> Bool {
        s.looksAt("VT-d detected ") || s.looksAt("QI HEAD: ") || s.looksAt("QI PRIOR: ")
            || s.looksAt("Invalidation Queue Error (IQE) cleared")
            || s.looksAt("Invalidation Time-out Error (ITE) cleared")
            || s.looksAt("Invalidation Completion Error (ICE) cleared")
    }

    static func consume(
        _ s: inout ByteScanner, record r: KmsgRecord, into out: inout [ClassifierOutput]
    ) -> Bool {
        if s.looksAt("QI HEAD: ") || s.looksAt("QI PRIOR: ") || s.looksAt("Invalidation ") {
            return looksLikeQI(s)  // detail of the error line before: no output of its own
        }
        guard s.skip("VT-d detected ") else { return false }
        var f = Fault(
            vendor: .intel, kind: .invalidationError, recoverable: false, seq: r.seq,
            timestampUsec: r.timestampUsec,
            text: r.text)
        if s.skip("invalid descriptor: ") {
            // ≤5.12: the only QI error the kernel printed (IQE).
            guard s.looksAt("low=") || s.looksAt("qw0 = ") else { return false }
            f.reasonText = "Invalidation Queue Error: invalid descriptor"
            f.owner = .iommuDriver
            f.detail = s.rest
        } else if s.skip("Invalidation Queue Error: Reason ") {
            guard let reason = s.hex(maxDigits: 16), s.atEndIgnoringSpaces else { return false }
            f.reasonText = "Invalidation Queue Error"
            f.owner = .iommuDriver
            f.detail = "IQE reason " + hex0x(reason)
        } else if s.skip("Invalidation Time-out Error: SID ") {
            guard let sid = s.hex(maxDigits: 16), sid <= 0xffff, s.atEndIgnoringSpaces else {
                return false
            }
            f.reasonText = "Invalidation Time-out Error: a Device-TLB invalidation was not answered"
            setSID(&f, UInt16(sid))
        } else if s.skip("Invalidation Completion Error: SID ") {
            guard let sid = s.hex(maxDigits: 16), sid <= 0xffff, s.atEndIgnoringSpaces else {
                return false
            }
            f.reasonText = "Invalidation Completion Error: an invalid ATS invalidation completion"
            setSID(&f, UInt16(sid))
        } else {
            return false
        }
        out.append(.fault(f))
        return true
    }

    static func setSID(_ f: inout Fault, _ sid: UInt16) {
        f.sourceID = UInt32(sid)
        if sid != 0 && sid != 0xffff { f.device = PCIAddress(requesterID: sid) }
    }
}
