/// Exactly once, in one place. Every kmsg record has a 64-bit sequence number that only grows
/// within a boot; the daemon's promise — nothing counted twice, every loss counted — rests on
/// three rules, each a small value below, used by `KmsgPipeline` (reading and counting) and the
/// journal and action sinks (side effects):
///
/// 1. **Reading** (`KmsgSequenceTracker`). Records at or below the checkpoint's `resumeSeq` were
///    folded in by an earlier run of this boot: skipped. Records in (`resumeSeq`, `countedSeq`]
///    were counted too, but belong to a multi-record group that was unfinished when the
///    checkpoint was taken: they go through the classifier again only to rebuild that group,
///    and what they produce is not counted again — as many outputs of each seq as the earlier
///    run counted (`CountedPosition.countedAfterResume`): a fault it still held back for detail
///    lines was not counted, and is counted now. Any gap between the expected seq and the one
///    read is loss — EPIPE while running, records that wrapped while the daemon was down, and
///    at a new boot everything before the first record read.
/// 2. **Counting** (`CountedPosition`). A checkpoint pairs the ledger with the position it is
///    consistent with: `countedSeq`, the last record the counters include, and `resumeSeq`, the
///    record before the oldest group that was unfinished *when the ledger was last counted* —
///    never the classifier's live state, which can be a batch ahead (the daemon classifies,
///    does I/O, then counts, and a checkpoint may fall in between). While a restarted run is
///    still re-reading what the last one counted, the loaded resume point stands: a group it
///    has not rebuilt yet is unfinished all the same, and a second crash must not skip it.
/// 3. **Side effects** (`HandledMark`). A journal entry or an action belongs to the seq of the
///    record that caused it; after a restart, entries and actions at or below the highest seq
///    already handled in this boot are not repeated. The mark moves only past what was really
///    sent (or deliberately dropped by the journal's budget), never past what still waits.
///
/// A restart in a new boot starts from zero: sequence numbers begin again with the boot.
public struct KmsgSequenceTracker: Sendable, Equatable {
    public private(set) var lastSeq: UInt64?
    public let resumeAfter: UInt64?
    public let countedThrough: UInt64?
    /// The source holds the boot's log from its start (/dev/kmsg): records before the first one
    /// read were lost. A saved log (replay) is an excerpt: only its own gaps are losses.
    public let fromStartOfBoot: Bool

    /// - Parameters:
    ///   - resumeAfter: the checkpoint's resume seq when it belongs to this boot, else nil.
    ///   - countedThrough: the highest seq the checkpoint's counters include (≥ resumeAfter).
    public init(resumeAfter: UInt64?, countedThrough: UInt64? = nil, fromStartOfBoot: Bool = true) {
        self.resumeAfter = resumeAfter
        self.countedThrough = countedThrough.map { max($0, resumeAfter ?? 0) } ?? resumeAfter
        self.fromStartOfBoot = fromStartOfBoot
    }

    public enum Observation: Equatable, Sendable {
        /// Already folded in before: ignore.
        case skip
        /// Counted before, but needed to rebuild an unfinished group: classify, do not count.
        case replay
        /// New. `lost` records were never seen between `lostAfter` (exclusive, nil = boot start)
        /// and this one.
        case accept(lost: UInt64, lostAfter: UInt64?)
    }

    public mutating func observe(_ seq: UInt64) -> Observation {
        let previous = lastSeq
        if let previous, seq <= previous { return .skip }
        lastSeq = seq
        if let r = resumeAfter, seq <= r { return .skip }
        if let c = countedThrough, seq <= c { return .replay }
        // The highest seq accounted for so far: the last one read, or what the checkpoint counted.
        let through: UInt64?
        switch (previous, countedThrough) {
        case let (p?, c?): through = max(p, c)
        case let (p?, nil): through = p
        case let (nil, c?): through = c
        case (nil, nil):
            if !fromStartOfBoot { return .accept(lost: 0, lostAfter: nil) }
            through = nil
        }
        let expected = through.map { $0.saturatingAdd(1) } ?? 0
        return .accept(lost: seq.saturatingSubtract(expected), lostAfter: through)
    }

    /// Records an earlier run counted are still to be read again (or none was read yet): the
    /// groups they rebuild are not all rebuilt, so the checkpoint's resume point still stands.
    public var isReplaying: Bool {
        guard let c = countedThrough else { return false }
        return (lastSeq ?? 0) < c || lastSeq == nil
    }

    /// Whether an output carrying `seq` was counted by an earlier run (a rebuilt group's
    /// earlier records): it must not be counted again.
    public func wasCounted(_ seq: UInt64?) -> Bool {
        guard let seq, let c = countedThrough else { return false }
        return seq <= c
    }
}

/// Where a checkpoint resumes: the pair of seqs saved with the ledger (rule 2 above).
public struct CountedPosition: Sendable, Equatable {
    /// The highest seq the counters include.
    public var countedSeq: UInt64?
    /// The first record of the oldest group unfinished when the ledger was last counted; nil
    /// when none was.
    public var pendingSinceAtCount: UInt64?
    /// What the counters include of the records after the resume point, by the seq each output
    /// carries (how many outputs): a restart reads those records again to rebuild the unfinished
    /// group, and drops only as many outputs of a seq as were counted. A fault complete in its
    /// record but held back for detail lines (an Intel DMA fault before its page-table dump, an
    /// AMD event before its DTE lines) was not counted, so it is counted then. nil: not known (a
    /// checkpoint of an older iommud, or more than `countedOutputsLimit` outputs while a group
    /// was unfinished): every output of those records is taken as counted, as before.
    public var countedAfterResume: [UInt64: UInt32]? = [:]

    /// Outputs remembered at most while a group stays unfinished.
    public static let countedOutputsLimit = 65_536

    public init(countedSeq: UInt64?, pendingSinceAtCount: UInt64?) {
        self.countedSeq = countedSeq
        self.pendingSinceAtCount = pendingSinceAtCount
    }

    /// Remembers the seqs of outputs just counted, and forgets those at or before the resume
    /// point (their records are not read again).
    mutating func remember(_ seqs: [UInt64]) {
        guard let pending = pendingSinceAtCount else {
            countedAfterResume = [:]
            return
        }
        guard var m = countedAfterResume else { return }
        countedAfterResume = nil
        m = m.filter { $0.key >= pending }
        for s in seqs where s >= pending { m[s, default: 0] &+= 1 }
        countedAfterResume = m.count <= Self.countedOutputsLimit ? m : nil
    }

    /// The position a loaded checkpoint stands for: its group (if `resumeSeq` < `countedSeq`, the
    /// record after `resumeSeq` began one) stands until the records replayed rebuild it.
    public init(resumeSeq: UInt64?, countedSeq: UInt64?) {
        self.countedSeq = countedSeq
        if countedSeq != nil, resumeSeq != countedSeq {
            pendingSinceAtCount = resumeSeq.map { $0 + 1 } ?? 0
        } else {
            pendingSinceAtCount = nil
        }
    }

    /// Records up to here need not be read again: never inside an unfinished group.
    public var resumeSeq: UInt64? {
        if let pending = pendingSinceAtCount { return pending == 0 ? nil : pending - 1 }
        return countedSeq
    }
}

/// How far journal entries and actions have been handled in this boot (rule 3 above).
public struct HandledMark: Sendable, Equatable {
    /// Entries and actions at or below this seq were handled by this run or an earlier run of
    /// this boot.
    public private(set) var through: UInt64?

    public init(through: UInt64? = nil) { self.through = through }

    /// Whether something caused by record `seq` still has to be done (nil seq: always).
    public func isNew(_ seq: UInt64?) -> Bool {
        guard let seq, let through else { return true }
        return seq > through
    }

    /// Everything at or below `seq` is done.
    public mutating func advance(to seq: UInt64) {
        if seq > through ?? 0 || through == nil { through = max(seq, through ?? 0) }
    }
}
