/// Follow-up lines that came without the record they belong to (its first line lost, or a paste
/// that begins there), gathered while they form one dump and then counted as ONE unparsed
/// record: an SMMUv3 dump's words, AMD DTE/CMD lines, an Intel page-table dump. Each family
/// decides what continues a dump; this keeps the lines, their seqs and the record they make.
struct OrphanLines: Sendable {
    /// Pending from here: a restart inside the dump re-reads it.
    private(set) var firstSeq: UInt64?
    private(set) var lastSeq: UInt64?
    private(set) var text = ""

    init(_ r: KmsgRecord) {
        firstSeq = r.seq
        lastSeq = r.seq
        text = r.text
    }

    mutating func add(_ r: KmsgRecord) {
        text += "\n" + r.text
        lastSeq = r.seq ?? lastSeq
    }

    func unparsed(_ vendor: Vendor) -> ClassifierOutput { .unparsed(vendor: vendor, text: text, seq: lastSeq) }
}

/// A family's run of orphan lines, with what the family tracks to tell where the dump ends.
protocol OrphanRun: Sendable {
    var lines: OrphanLines { get }
}

extension Optional where Wrapped: OrphanRun {
    /// Ends the run, if there is one: its lines count as ONE unparsed record of `vendor`, at
    /// `index` in `out` (to keep the input order) or at the end.
    mutating func end(_ vendor: Vendor, into out: inout [ClassifierOutput], at index: Int? = nil) {
        guard let run = self else { return }
        self = nil
        out.insert(run.lines.unparsed(vendor), at: index ?? out.endIndex)
    }
}
