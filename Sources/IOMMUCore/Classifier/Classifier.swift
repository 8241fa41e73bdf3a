// Unsafe pointers here: the gate reads the raw record bytes before any String exists (hot path: every record).

/// Turns kernel records into faults, loss markers and platform facts.
///
/// Pure and deterministic: `KmsgPipeline` drives it for the daemon and for `iommud replay`
/// alike. Multi-record groups (AMD split events, SMMUv3's five-record dumps, pasted two-line
/// Intel records, SMMUv2 global faults) are joined by the family parsers; `pendingSince` tells
/// the checkpoint where the oldest unfinished group began so a restart re-reads it whole.
///
/// Dispatch: `N callbacks suppressed` lines → each family of the catalog in order → boot
/// inventory → the `.unparsed` fallback for IOMMU-looking reports no parser knows (never
/// dropped). Each family file says where it decides recoverable vs non-recoverable
/// (kernel-formats.md §8.1).
public struct Classifier: Sendable {
    public struct Options: Sendable, Equatable {
        /// Tests only: also classify records written from userspace (facility ≠ 0).
        public var acceptUserFacility: Bool

        public init(acceptUserFacility: Bool = false) {
            self.acceptUserFacility = acceptUserFacility
        }
    }

    public let options: Options
    public let catalog: FamilyCatalog
    /// The byte-level gate, built from the catalog's descriptors.
    public let prefilter: IOMMUPrefilter
    var parsers: [any FamilyParser]

    public init(options: Options = Options(), catalog: FamilyCatalog = .standard) {
        self.options = options
        self.catalog = catalog
        self.prefilter = IOMMUPrefilter(catalog: catalog)
        self.parsers = catalog.families.map { $0.makeParser($0.descriptor) }
    }

    /// The fast path's question, asked on the raw record before any String exists: facility
    /// first, then the byte-level IOMMU word check on the still-escaped text.
    public func wants(layout: KmsgRecordLayout, bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        if layout.facility != 0 && !options.acceptUserFacility { return false }
        return prefilter.mightBeIOMMU(UnsafeBufferPointer(rebasing: bytes[layout.text]))
    }

    /// The same question for a record that is already decoded.
    public func wants(_ r: KmsgRecord) -> Bool {
        r.text.withBytes { wants(facility: r.facility, text: $0) }
    }

    /// The same question for a text log's record, on its message bytes.
    public func wants(facility: UInt32, text: UnsafeBufferPointer<UInt8>) -> Bool {
        if facility != 0 && !options.acceptUserFacility { return false }
        return prefilter.mightBeIOMMU(text)
    }

    /// Sequence number of the first record of the oldest unfinished group, if any — including a
    /// complete fault held back for a detail line that may follow (Intel PTE dump, AMD DTE/CMD
    /// lines, a 6.14+ SMMUv3 raw dump waiting for its decoded line): it is not emitted yet.
    public var pendingSince: UInt64? {
        parsers.compactMap(\.pendingSince).min()
    }

    /// Classifies one record, appending what it completes to `out`.
    public mutating func classify(_ r: KmsgRecord, into out: inout [ClassifierOutput]) {
        if !r.isKernel && !options.acceptUserFacility { return }
        if SuppressedMessagesLine.consume(r, catalog: catalog, into: &out) { return }
        let before = out.count
        for i in parsers.indices where parsers[i].consume(r, into: &out) {
            // A fault held for its detail lines (Intel page-table dump, AMD DTE/CMD) is complete
            // once another family speaks: its details follow it at once, from the same function.
            var at = before
            for j in parsers.indices where j != i {
                let n = out.count
                parsers[j].anotherFamilySpoke(into: &out, at: at)
                at += out.count - n
            }
            return
        }
        if BootInventoryParser.consume(r, into: &out) { return }
        if case .some(let vendor) = Self.unparsedVendor(r, catalog: catalog) {
            out.append(.unparsed(vendor: vendor, text: r.text, seq: r.seq))
        }
    }

    /// The reader went idle: release what was held only to see whether a follow-up line would
    /// add detail. Groups still missing records stay pending.
    public mutating func flush(into out: inout [ClassifierOutput]) {
        for i in parsers.indices { parsers[i].flush(into: &out) }
    }

    /// End of input (replay): `flush`, then every group still missing records is emitted with
    /// what it has — a fault when the records seen say enough, else `.unparsed`.
    public mutating func finish(into out: inout [ClassifierOutput]) {
        for i in parsers.indices { parsers[i].finish(into: &out) }
    }

    /// Decides whether an unclaimed record is an IOMMU *report* we do not know (counted as
    /// unparsed) or ordinary IOMMU chatter (`Adding to iommu group`, `ias 48-bit`, `Unable to
    /// read/write to IOMMU perf counter`): only lines that speak of a fault, an event or an
    /// overflow count; the family is the first whose naming words the line holds. Returns
    /// `.some(nil)` for an IOMMU report of no particular family, nil for no report.
    static func unparsedVendor(_ r: KmsgRecord, catalog: FamilyCatalog) -> Vendor?? {
        let reportish = r.text.withBytes { b -> Bool in
            let s = ByteScanner(b)
            return s.containsWord("fault") || s.containsWord("Fault") || s.containsWord("FAULT")
                || s.find("Event logged") != nil || s.find("event 0x") != nil || s.containsWord("overflow")
                || s.find("Request device") != nil || s.find("PPR logged") != nil
        }
        guard reportish else { return .none }
        return catalog.vendor(namedIn: r.text)
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
