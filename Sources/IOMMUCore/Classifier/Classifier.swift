/// Turns kernel records into faults, loss markers and platform facts.
///
/// Pure and deterministic: the daemon and `iommud replay` drive the same value over /dev/kmsg
/// and over files. Multi-record groups (AMD split events, SMMUv3's five-record dumps, pasted
/// two-line Intel records, SMMUv2 global faults) are joined here; `pendingSince` tells the
/// checkpoint where the oldest unfinished group began so a restart re-reads it whole.
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
    public static func wants(layout: KmsgRecordLayout, bytes: UnsafeBufferPointer<UInt8>, options: Options) -> Bool {
        if layout.facility != 0 && !options.acceptUserFacility { return false }
        return IOMMUPrefilter.mightBeIOMMU(UnsafeBufferPointer(rebasing: bytes[layout.text]))
    }

    /// Sequence number of the first record of the oldest unfinished group, if any.
    public var pendingSince: UInt64? {
        [intel.pendingSince, amd.pendingSince, smmuv3.pendingSince, smmuv2.pendingSince].compactMap { $0 }.min()
    }

    /// Classifies one record, appending what it completes to `out`.
    public mutating func classify(_ r: KmsgRecord, into out: inout [ClassifierOutput]) {
        if !r.isKernel && !options.acceptUserFacility { return }
        // Each parser claims the records of its family; order matters only where formats
        // could overlap (the ratelimit line has no vendor prefix).
        if RatelimitParser.consume(r, into: &out) { return }
        if intel.consume(r, into: &out) { return }
        if amd.consume(r, into: &out) { return }
        if smmuv3.consume(r, into: &out) { return }
        if smmuv2.consume(r, into: &out) { return }
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

    /// Decides whether an unclaimed record is an IOMMU *report* we do not know (counted as
    /// unparsed) or ordinary IOMMU chatter (`Adding to iommu group`, `ias 48-bit`): errors
    /// (level ≤ 3) and anything that speaks of a fault, an error or an event count; the vendor
    /// comes from the words in the line. Returns `.some(nil)` for an IOMMU line of no vendor.
    static func unparsedVendor(_ r: KmsgRecord) -> Vendor?? {
        let text = r.text
        let vendor: Vendor?
        if text.contains("DMAR") || text.contains("dmar") || text.contains("DRHD") || text.contains("INTR-REMAP") {
            vendor = .intel
        } else if text.contains("AMD-Vi") || text.contains("ivhd") || text.contains("amd_iommu") {
            vendor = .amd
        } else if text.contains("arm-smmu-v3") || text.contains("smmuv3") {
            vendor = .armSMMUv3
        } else if text.contains("arm-smmu") || text.contains("smmu") {
            vendor = .armSMMU
        } else if text.contains("iommu") || text.contains("IOMMU") || text.contains("Event logged") {
            vendor = nil
        } else {
            return .none
        }
        let reportish =
            r.level <= 3 || text.containsWord("fault") || text.containsWord("Fault") || text.contains("Event logged")
            || text.contains("event 0x") || text.containsWord("overflow")
        return reportish ? .some(vendor) : .none
    }
}

extension String {
    /// `word` not preceded by a letter ("fault" in "page fault", not in "Default").
    func containsWord(_ word: String) -> Bool {
        var search = self[...]
        while let r = search.range(of: word) {
            if r.lowerBound == startIndex || !self[index(before: r.lowerBound)].isLetter { return true }
            search = self[r.upperBound...]
        }
        return false
    }
}
