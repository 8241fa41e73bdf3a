/// How many Intel VT-d fault records really happened behind `dmar_fault()`'s printk ratelimit
/// (docs/intel-ratelimit-model.md).
///
/// `dmar_fault()` shares ONE `static DEFINE_RATELIMIT_STATE(rs, 5 s, 10)` across every unit. Since
/// v4.19 each fault interrupt calls `__ratelimit()` once for the status line, once per fault record
/// and once more for the loop iteration that finds the next record clear, so
/// `dmar_fault: N callbacks suppressed` counts refused *calls*. A window that refused anything
/// allowed exactly `burst` calls, and the printed lines show all of them but the end calls; the
/// end calls it allowed are `burst − printed lines`, a window without refusals allowed one per
/// printed status line. Then, with every interrupt costing one status call and one end call:
///
///     records = printed lines + allowed end calls + Σ N − 2 · interrupts (+ status lines without PPF)
///
/// exactly, once every window's count has been printed. Where it has not (the last window of a
/// storm that just stopped), each interrupt still carries at least one record, which bounds the
/// count from below. The estimator keeps counters only (per unit and for the open window), so it
/// is a few dozen bytes however long the storm, and it is `Equatable` plain data: the daemon
/// checkpoints it beside the ledger and restores it with the same kmsg sequence number.
///
/// Observations come in kmsg order; an interrupt sample comes after the records read before it
/// was taken (the daemon samples /proc/interrupts after each batch), as a cumulative count since
/// boot. Input arithmetic saturates: a corrupt `N` never traps.
public struct DMARFaultEstimator: Sendable, Equatable {
    public enum Observation: Sendable, Equatable {
        /// `DRHD: handling fault status reg %x`: the FSTS value when parsed (PFO bit 0, PPF bit 1).
        case statusLine(status: UInt32?, tsUsec: UInt64?)
        /// A printed fault record (`[DMA Read …]`, `[DMA Write …]`, `[INTR-REMAP]`) of a unit.
        case record(unit: String?, tsUsec: UInt64?)
        /// `dmar_fault: N callbacks suppressed`.
        case suppressed(count: UInt64, tsUsec: UInt64?)
        /// A unit's `DMAR-MSI` fault-interrupt count since boot (cumulative, summed over CPUs).
        case interrupts(unit: String, total: UInt64)
        /// kmsg records the daemon never read (seq gaps, EPIPE, wrapped before it started).
        case lost(records: UInt64)
    }

    public struct Estimate: Sendable, Equatable {
        /// The model's figure: fault records that happened.
        public var value: UInt64
        /// Fewer records than this cannot have happened (under the model's premises).
        public var lower: UInt64
        /// More than this cannot have happened; nil: no bound (a count not printed yet, lost
        /// records, uncounted refusals, hardware overflow).
        public var upper: UInt64?
        /// The value is determined by the model, not guessed.
        public var exact: Bool
        /// Why it is exact, or what widens the bounds (a sentence).
        public var condition: String

        public init(value: UInt64, lower: UInt64, upper: UInt64?, exact: Bool, condition: String) {
            self.value = value
            self.lower = lower
            self.upper = upper
            self.exact = exact
            self.condition = condition
        }
    }

    /// Per unit: what the log attributed to it and its interrupt count.
    struct UnitCounts: Sendable, Equatable {
        var printedRecords: UInt64 = 0
        var interrupts: UInt64 = 0
    }

    /// The ratelimit window the kernel is in, as far as the printed lines show it.
    struct Window: Sendable, Equatable {
        /// Timestamp of its first visible line (the window began at its first call).
        var startUsec: UInt64?
        /// Printed lines (status lines + records) in it.
        var printed: UInt64 = 0
        /// Printed status lines in it, and those of them without PPF (no record loop, no end call).
        var status: UInt64 = 0
        var statusWithoutPPF: UInt64 = 0
        /// Its boundary with the previous window is not certain (no timestamp, a gap within the
        /// jiffy slack, a suppressed count earlier than the interval).
        var uncertain = false
        /// Its first line is a record: the handler run began (status call) in the window before,
        /// and its end call is in this one.
        var beganMidRun = false
        /// End calls of the runs whose status line it printed, moved to the next window when that
        /// one began in the middle of its last run.
        var endsMovedOn = false
        /// Calls the window before used, when the boundary with it is ambiguous: the two may be
        /// one window, whose calls could have run out.
        var carriedUsed: UInt64 = 0
        /// Handler runs with a record loop that end in it: one end call each.
        var endCalls: UInt64 {
            let own = status &- min(status, statusWithoutPPF)
            let moved: UInt64 = endsMovedOn && own > 0 ? 1 : 0
            return satAdd(own - moved, beganMidRun ? 1 : 0)
        }
    }

    /// Set before the first observation (the daemon does at start, from the kernel release);
    /// a later change applies to the windows still to close.
    public var shape: KernelShape
    public let burst: UInt64
    public let intervalUsec: UInt64
    /// Beyond `interval`, a gap shorter than this may or may not have crossed the jiffies test
    /// (`time_is_before_jiffies(begin + interval)`): 2 jiffies at HZ=100.
    public let slackUsec: UInt64

    var units: [String: UnitCounts] = [:]
    /// Records the log did not attribute to a unit.
    var unattributedRecords: UInt64 = 0
    var printedStatus: UInt64 = 0
    var statusWithoutPPF: UInt64 = 0
    var reportedSuppressed: UInt64 = 0
    /// Allowed end calls of the closed windows: a range when a boundary was uncertain.
    var endCallsLow: UInt64 = 0
    var endCallsHigh: UInt64 = 0
    var window = Window()
    var closedWindows: UInt64 = 0
    var uncertainWindows: UInt64 = 0
    var overflows: UInt64 = 0
    var lostRecords: UInt64 = 0
    /// Since an ambiguous boundary (or a line without a timestamp), the window starts may be
    /// wrong, and so may every boundary after them, until something fixes a start again: a
    /// printed count (it opens a window) or a silence longer than the interval (any window
    /// that was open has expired by the next line).
    var unanchored = false
    var lastLineUsec: UInt64?
    /// A window printed more status lines than the v4.19+ shape allows (`burst / 3 + 1`).
    var shapeMismatch = false
    /// Fault interrupt counts were sampled. A saved log has none (and a unit may have no row in
    /// /proc/interrupts): the calls cannot then be split into interrupts and records exactly.
    var interruptsCounted = false
    /// The estimator did not see this boot's fault lines from its first one (a checkpoint
    /// written before the daemon kept an estimator): what it missed is unknown.
    public internal(set) var startedLate = false

    /// Units kept apart, at most (a real platform has a handful of DRHDs): records of further
    /// units count as records of no unit, their interrupts are not used.
    public static let unitLimit = 64

    public init(
        shape: KernelShape = .perCall, burst: UInt64 = 10, intervalUsec: UInt64 = 5_000_000,
        slackUsec: UInt64 = 25_000
    ) {
        self.shape = shape
        self.burst = burst
        self.intervalUsec = intervalUsec
        self.slackUsec = slackUsec
    }

    /// Nothing was observed: no Intel fault line, no Intel fault vector.
    public var isEmpty: Bool {
        units.isEmpty && unattributedRecords == 0 && printedStatus == 0 && reportedSuppressed == 0
    }

    /// The estimator starts on a boot whose fault lines it did not all see.
    public mutating func markStartedLate() {
        startedLate = true
    }
}

/// Saturating addition: counts from the kernel are never trusted not to overflow.
@inline(__always)
func satAdd(_ a: UInt64, _ b: UInt64) -> UInt64 {
    a.saturatingAdd(b)
}
