/// Turns kernel records into faults, loss markers and platform facts.
///
/// Pure and deterministic: the daemon and `iommud replay` drive the same value over /dev/kmsg
/// and over files. Multi-record groups (AMD split events, SMMUv3's five-record dumps, pasted
/// two-line Intel records, SMMUv2 global faults) are joined here; `pendingSince` tells the
/// checkpoint where the oldest unfinished group began so a restart re-reads it whole.
///
/// Dispatch: ratelimit summaries → Intel → AMD → SMMUv3 → SMMUv2 → boot inventory → the
/// `.unparsed` fallback for IOMMU-looking reports no parser knows (never dropped).
///
/// Where each vendor decides recoverable vs non-recoverable (kernel-formats.md §8.1):
/// * Intel — IntelVTd.swift (DMA / IR records: never), IntelQueuedInvalidation.swift (QI:
///   never), IntelPageRequest.swift (PRQ lines: always).
/// * AMD — AMDVi.swift (event log: never), AMDViMessages.swift (PPR-log anomalies: always).
/// * ARM SMMUv3 — ArmSMMUv3Events.swift (the event record's STALL bit), ArmSMMUv3.swift (PRI
///   requests: always).
/// * ARM SMMUv2 — ArmSMMUv2.swift (FSR.SS of a context fault; global faults never).
public struct Classifier: Sendable {
    public struct Options: Sendable, Equatable {
        /// Tests only: also classify records written from userspace (facility ≠ 0).
        public var acceptUserFacility: Bool

        public init(acceptUserFacility: Bool = false) {
            self.acceptUserFacility = acceptUserFacility
        }
    }

    public var options: Options
    var intel = IntelVTdParser()
    var amd = AMDViParser()
    var smmuv3 = ArmSMMUv3Parser()
    var smmuv2 = ArmSMMUv2Parser()

    public init(options: Options = Options()) {
        self.options = options
    }

    /// The fast path's question, asked on the raw record before any String exists: facility
    /// filter first, then the byte-level IOMMU word check.
    @inlinable
    public static func wants(
        layout: KmsgRecordLayout, bytes: UnsafeBufferPointer<UInt8>, options: Options
    ) -> Bool {
        if layout.facility != 0 && !options.acceptUserFacility { return false }
        return IOMMUPrefilter.mightBeIOMMU(UnsafeBufferPointer(rebasing: bytes[layout.text]))
    }

    /// The same question for a record that is already decoded (text replay): facility, then the
    /// prefilter over its (unescaped) text.
    public static func wants(_ r: KmsgRecord, options: Options) -> Bool {
        if !r.isKernel && !options.acceptUserFacility { return false }
        return r.text.withBytes { IOMMUPrefilter.mightBeIOMMU($0) }
    }

    /// Sequence number of the first record of the oldest unfinished group, if any — including a
    /// complete fault held back for a detail line that may follow (Intel PTE dump, AMD DTE/CMD
    /// lines, a 6.14+ SMMUv3 raw dump waiting for its decoded line): it is not emitted yet.
    public var pendingSince: UInt64? {
        var m: UInt64?
        for s in [intel.pendingSince, amd.pendingSince, smmuv3.pendingSince, smmuv2.pendingSince] {
            if let s { m = m.map { min($0, s) } ?? s }
        }
        return m
    }

    /// Classifies one record, appending what it completes to `out`.
    public mutating func classify(_ r: KmsgRecord, into out: inout [ClassifierOutput]) {
        if !r.isKernel && !options.acceptUserFacility { return }
        // Each parser claims the records of its family; order matters only where formats
        // could overlap (the ratelimit line has no vendor prefix).
        if RatelimitParser.consume(r, into: &out) { return }
        let before = out.count
        if intel.consume(r, into: &out) { return }
        if amd.consume(r, into: &out) {
            intel.releaseHeld(into: &out, at: before)
            return
        }
        // A fault held for its detail lines (Intel page-table dump, AMD DTE/CMD) is complete
        // once another driver speaks: its details follow it immediately, from the same function.
        if smmuv3.consume(r, into: &out) || smmuv2.consume(r, into: &out) {
            intel.releaseHeld(into: &out, at: before)
            amd.releaseHeld(into: &out, at: before)
            return
        }
        if BootInventoryParser.consume(r, into: &out) { return }
        if let vendor = Self.unparsedVendor(r) {
            out.append(.unparsed(vendor: vendor, text: r.text, seq: r.seq))
        }
    }

    /// The reader went idle: release what was held only to see whether a follow-up line would
    /// add detail. Groups still missing records stay pending.
    public mutating func flush(into out: inout [ClassifierOutput]) {
        intel.flush(into: &out)
        amd.flush(into: &out)
        smmuv3.flush(into: &out)
        smmuv2.flush(into: &out)
    }

    /// End of input (replay): `flush`, then every group still missing records is emitted with
    /// what it has — a fault when the records seen say enough, else `.unparsed`.
    public mutating func finish(into out: inout [ClassifierOutput]) {
        intel.finish(into: &out)
        amd.finish(into: &out)
        smmuv3.finish(into: &out)
        smmuv2.finish(into: &out)
    }

    /// Decides whether an unclaimed record is an IOMMU *report* we do not know (counted as
    /// unparsed) or ordinary IOMMU chatter (`Adding to iommu group`, `ias 48-bit`, `Unable to
    /// read/write to IOMMU perf counter`): only lines that speak of a fault, an event or an
    /// overflow count; the vendor comes from the words in the line. Returns `.some(nil)` for an
    /// IOMMU report of no particular vendor.
    static func unparsedVendor(_ r: KmsgRecord) -> Vendor?? {
        r.text.withBytes { b -> Vendor?? in
            let s = ByteScanner(b)
            let reportish =
                s.containsWord("fault") || s.containsWord("Fault") || s.containsWord("FAULT")
                || s.find("Event logged") != nil
                || s.find("event 0x") != nil || s.containsWord("overflow")
                || s.find("Request device") != nil
                || s.find("PPR logged") != nil
            guard reportish else { return .none }
            if s.find("DMAR") != nil || s.find("dmar") != nil || s.find("DRHD") != nil
                || s.find("INTR-REMAP") != nil
            {
                return .some(.intel)
            }
            if s.find("AMD-Vi") != nil || s.find("ivhd") != nil || s.find("amd_iommu") != nil {
                return .some(.amd)
            }
            if s.find("arm-smmu-v3") != nil || s.find("smmuv3") != nil { return .some(.armSMMUv3) }
            if s.find("arm-smmu") != nil || s.find("smmu") != nil || s.find("qcom-iommu") != nil {
                return .some(.armSMMU)
            }
            if s.find("iommu") != nil || s.find("IOMMU") != nil || s.find("Event logged") != nil {
                return .some(nil)
            }
            return .none
        }
    }
}

extension ByteScanner {
    /// `word` at the start of a word: not inside an identifier (`fault` in `page fault` and
    /// `faults`, not in `Default` or `dmar_fault`).
    func containsWord(_ word: StaticString) -> Bool {
        var from = position
        while let i = find(word, from: from) {
            if i == 0 || !Self.isIdentifierByte(bytes[i - 1]) { return true }
            from = i + 1
        }
        return false
    }

    static func isIdentifierByte(_ b: UInt8) -> Bool {
        (b | 0x20 >= UInt8(ascii: "a") && b | 0x20 <= UInt8(ascii: "z")) || (b >= 0x30 && b <= 0x39)
            || b == UInt8(ascii: "_")
    }
}
