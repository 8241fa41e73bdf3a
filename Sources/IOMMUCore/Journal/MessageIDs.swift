/// The journal MESSAGE_IDs iommud sends (ARCHITECTURE.md "Journal entries", contract). Fixed
/// forever: alert rules, `journalctl MESSAGE_ID=…` and the catalog (systemd/iommud.catalog)
/// depend on them. This is the only place they are written in Swift.
public enum MessageID {
    /// One IOMMU fault (non-storm).
    public static let fault = "836b376a34f24d039f6a071fe971fb56"
    /// A device started faulting faster than `[storm] threshold` per `window`.
    public static let stormBegins = "f48742c4a9934663b30064ce8edcbe54"
    /// Every `summary_interval` while a storm lasts: counts, kinds, reasons, address range.
    public static let stormSummary = "3323642163e04defb6c92eb67c944c70"
    /// The storm calmed down.
    public static let stormEnds = "5d05465e8f05432a8b569b87a91a06d0"
    /// kmsg records the daemon never saw (ring buffer overrun, gap across a restart).
    public static let recordsLost = "c4e6e5117b3a4855b15035d445688409"
    public static let daemonStarted = "68cd9dc49d37468f9aee3f0a7d46d747"
    public static let daemonStopped = "b0cfd8457ae34c1c8b0de5428fe6cca6"

    /// Every id with its name, for the catalog test and documentation.
    public static let all: [(name: String, id: String)] = [
        ("fault", fault), ("storm begins", stormBegins), ("storm summary", stormSummary),
        ("storm ends", stormEnds),
        ("kernel records lost", recordsLost), ("daemon started", daemonStarted),
        ("daemon stopped", daemonStopped),
    ]

    /// Entries that carry a KMSG_SEQ: what a restart looks at to find where the journal is.
    public static let withKmsgSeq: [String] = [
        fault, stormBegins, stormSummary, stormEnds, recordsLost,
    ]
}
