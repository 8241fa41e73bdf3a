/// The faults that matched an expected-fault rule, counted exactly and apart from the ledger's
/// other series (`iommu_expected_faults_total{rule,…}`, `status`'s "Expected faults"), per rule:
/// its series (unit, device, vendor, kind, reason, recoverable — as `iommu_faults_total`), its
/// matches, its last match.
///
/// Rules and reloads: a rule's counts are kept by its name. Every rule of the running
/// configuration has a tally from the start, at 0 (a rule that never matched since boot is
/// listed: stale allowlists are how real faults hide). A reload that keeps a name keeps its
/// counts, whatever its criteria became. A rule removed or renamed by a reload keeps what it
/// counted this boot — its series stay, nothing counted disappears — marked not configured;
/// one that had counted nothing is forgotten. At most `maxRetired` such rules are kept (the
/// oldest go first), so renames cannot grow the ledger without end. A new boot starts with
/// none (the ledger is per boot).
public struct ExpectedLedger: Sendable, Equatable {
    public struct Tally: Sendable, Equatable {
        public var rule: String
        /// A rule of the running configuration (false: removed or renamed since it counted).
        public var configured: Bool
        /// Faults counted under the rule (the sum of its series).
        public internal(set) var matches: UInt64 = 0
        public internal(set) var series: [FaultCounterKey: UInt64] = [:]
        public internal(set) var lastMatch: Fault?
        /// Wall-clock µs of the last match (its kmsg timestamp mapped to realtime), when known.
        public internal(set) var lastMatchRealtimeUsec: Int64?

        init(rule: String, configured: Bool) {
            self.rule = rule
            self.configured = configured
        }

        /// Faults per device label, most first (ties: by label).
        public var byDevice: [(device: String, count: UInt64)] {
            var out: [String: UInt64] = [:]
            for (k, v) in series { out.add(v, to: k.device) }
            return out.map { ($0.key, $0.value) }.sorted {
                $0.count != $1.count ? $0.count > $1.count : $0.device < $1.device
            }
        }
    }

    /// At most this many series over all rules; faults of further series are counted, exactly,
    /// under device `overflow` of their rule (a device forging requester ids cannot grow it).
    public static let maxSeries = 4096
    /// Rules no longer configured that keep their counts, at most.
    public static let maxRetired = ExpectedRules.maxRules

    /// Configured rules in the order of the file, then the retired ones, oldest first.
    public private(set) var tallies: [Tally] = []
    private var index: [String: Int] = [:]
    public private(set) var seriesCount = 0

    public init() {}

    public var isEmpty: Bool { tallies.isEmpty }

    public subscript(rule: String) -> Tally? { index[rule].map { tallies[$0] } }

    /// Faults counted under every rule.
    public var totalFaults: UInt64 {
        tallies.reduce(UInt64(0)) { $0.saturatingAdd($1.matches) }
    }

    /// The running configuration's rules, in the order of the file (at start and on reload).
    public mutating func configure(_ names: [String]) {
        let wanted = Set(names)
        var configured: [Tally] = []
        for name in names where !configured.contains(where: { $0.rule == name }) {
            var t = self[name] ?? Tally(rule: name, configured: true)
            t.configured = true
            configured.append(t)
        }
        // Rules retired earlier keep their place (oldest first); those this call retires follow.
        let leaving = tallies.filter { !wanted.contains($0.rule) && $0.matches > 0 }
        var retired = leaving.filter { !$0.configured } + leaving.filter(\.configured)
        for i in retired.indices { retired[i].configured = false }
        if retired.count > Self.maxRetired { retired.removeFirst(retired.count - Self.maxRetired) }
        rebuild(configured + retired)
    }

    /// Counts one fault under `rule` (a rule the ledger has no tally for gets one, not configured).
    mutating func count(_ f: Fault, rule: String, realtimeOffsetUsec: Int64?) {
        var key = FaultCounterKey(f)
        let i = position(of: rule)
        if tallies[i].series[key] == nil && seriesCount >= Self.maxSeries { key.device = FaultLedger.overflowDevice }
        add(at: i, key: key, count: 1)
        tallies[i].lastMatch = f
        if let ts = f.timestampUsec, let off = realtimeOffsetUsec {
            tallies[i].lastMatchRealtimeUsec = Int64(clamping: ts).addingReportingOverflow(off).partialValue
        }
    }

    /// Adds `count` faults under one series of `rule` (a checkpoint's counters, read back: the
    /// rule stays not configured until `configure` names it).
    public mutating func addFaults(rule: String, key: FaultCounterKey, count: UInt64) {
        var key = key
        let i = position(of: rule)
        if tallies[i].series[key] == nil && seriesCount >= Self.maxSeries { key.device = FaultLedger.overflowDevice }
        add(at: i, key: key, count: count)
    }

    /// Gives a rule its last match back (a checkpoint keeps it beside the counters).
    public mutating func restoreLastMatch(rule: String, fault: Fault, realtimeUsec: Int64?) {
        guard let i = index[rule] else { return }
        tallies[i].lastMatch = fault
        tallies[i].lastMatchRealtimeUsec = realtimeUsec
    }

    /// Faults per unit, by class and vendor, over every rule (`status`'s units count them in
    /// the faults that happened).
    public func unitFaults() -> [String: UnitFaults] {
        var out: [String: UnitFaults] = [:]
        forEachSeries { _, k, v in out[k.unit, default: UnitFaults()].add(k.vendor, k.recoverable, v) }
        return out
    }

    /// Every series with its rule: rules in `tallies` order, series sorted by key.
    public func forEachSeries(_ body: (String, FaultCounterKey, UInt64) -> Void) {
        for t in tallies {
            for (k, v) in t.series.sorted(by: { $0.key < $1.key }) { body(t.rule, k, v) }
        }
    }

    private mutating func add(at i: Int, key: FaultCounterKey, count: UInt64) {
        if tallies[i].series[key] == nil { seriesCount += 1 }
        tallies[i].series.add(count, to: key)
        tallies[i].matches = tallies[i].matches.saturatingAdd(count)
    }

    private mutating func position(of rule: String) -> Int {
        if let i = index[rule] { return i }
        index[rule] = tallies.count
        tallies.append(Tally(rule: rule, configured: false))
        return tallies.count - 1
    }

    private mutating func rebuild(_ t: [Tally]) {
        tallies = t
        index = [:]
        seriesCount = 0
        for (i, x) in t.enumerated() {
            index[x.rule] = i
            seriesCount += x.series.count
        }
    }
}
