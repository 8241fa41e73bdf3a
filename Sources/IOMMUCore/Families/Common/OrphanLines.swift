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
