/// Decides, for each record's sequence number, whether it is new and how many records were lost
/// before it. This is the whole exactly-once rule for reading:
/// - records at or below `resumeAfter` (same boot) were folded in by an earlier run: skip them;
/// - records in (`resumeAfter`, `countedThrough`] were counted too, but belong to a multi-record
///   group that was unfinished at the checkpoint: they are replayed through the classifier only
///   to rebuild the group, and what they produce is not counted again;
/// - a gap between the expected and the read seq is loss — EPIPE while running, the records that
///   wrapped while the daemon was down, and at a new boot everything before the first seq read.
public struct KmsgSequenceTracker: Sendable, Equatable {
    public private(set) var lastSeq: UInt64?
    public let resumeAfter: UInt64?
    public let countedThrough: UInt64?

    /// - Parameters:
    ///   - resumeAfter: the checkpoint's resume seq when it belongs to this boot, else nil.
    ///   - countedThrough: the highest seq the checkpoint's counters include (≥ resumeAfter).
    public init(resumeAfter: UInt64?, countedThrough: UInt64? = nil) {
        self.resumeAfter = resumeAfter
        self.countedThrough = countedThrough.map { max($0, resumeAfter ?? 0) } ?? resumeAfter
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
        case (nil, nil): through = nil
        }
        let expected = through.map { $0 + 1 } ?? 0
        return .accept(lost: seq - expected, lostAfter: through)
    }
}
