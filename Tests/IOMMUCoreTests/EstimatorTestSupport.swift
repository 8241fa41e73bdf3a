import IOMMUCore
import Testing

/// `dmar_fault()` and `___ratelimit()` as the kernel runs them (docs/intel-ratelimit-model.md §2),
/// producing what the log and /proc/interrupts show. Times in microseconds; the calls of one
/// handler run are 1 µs apart.
struct KernelSim {
    enum Shape { case perCall, perInterrupt, unlimited }
    var shape: Shape = .perCall
    var burst: UInt64 = 10
    var interval: UInt64 = 5_000_000
    var begin: UInt64?
    var printed: UInt64 = 0
    var missed: UInt64 = 0
    var out: [DMARFaultEstimator.Observation] = []
    var interrupts: [String: UInt64] = [:]
    var records: [String: UInt64] = [:]
    /// Calls refused without being counted (pre-6.16 lock contention), to model it.
    var uncounted: Bool = false

    /// `___ratelimit()`: true = go ahead.
    mutating func call(_ t: UInt64) -> Bool {
        if begin == nil { begin = t }
        if t > begin! + interval {
            if missed > 0 { out.append(.suppressed(count: missed, tsUsec: t)) }
            missed = 0
            begin = t
            printed = 0
        }
        if uncounted { return false }
        if printed < burst {
            printed += 1
            return true
        }
        missed += 1
        return false
    }

    /// One fault interrupt on `unit` at `t` draining `n` records; `status` is FSTS.
    mutating func run(_ unit: String = "dmar0", at t: UInt64, records n: Int = 1, status: UInt32 = 2) {
        interrupts[unit, default: 0] += 1
        var t = t
        switch shape {
        case .unlimited:
            out.append(.statusLine(status: status, tsUsec: t))
            for _ in 0..<n {
                t += 1
                out.append(.record(unit: unit, tsUsec: t))
            }
        case .perInterrupt:
            let ok = call(t)
            if ok { out.append(.statusLine(status: status, tsUsec: t)) }
            for _ in 0..<(status & 2 != 0 ? n : 0) {
                t += 1
                if ok { out.append(.record(unit: unit, tsUsec: t)) }
            }
        case .perCall:
            if call(t) { out.append(.statusLine(status: status, tsUsec: t)) }
            guard status & 2 != 0 else { return }
            for _ in 0..<n {
                t += 1
                if call(t) { out.append(.record(unit: unit, tsUsec: t)) }
            }
            t += 1
            _ = call(t)  // the iteration that finds the next record clear
        }
        if status & 2 != 0 || shape == .unlimited { records[unit, default: 0] += UInt64(n) }
    }

    /// The daemon samples /proc/interrupts after reading what is in the log.
    mutating func sample() {
        for (u, n) in interrupts.sorted(by: { $0.key < $1.key }) { out.append(.interrupts(unit: u, total: n)) }
    }

    var truth: UInt64 { records.values.reduce(0, +) }

    func estimator(_ shape: DMARFaultEstimator.KernelShape = .perCall) -> DMARFaultEstimator {
        var e = DMARFaultEstimator(shape: shape)
        for o in out { e.observe(o) }
        return e
    }
}

/// The model's promise: exact → the truth; always lower ≤ truth ≤ upper and lower ≤ value ≤ upper.
func holds(
    _ e: DMARFaultEstimator.Estimate, truth: UInt64, _ where_: String = "",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    if e.exact {
        #expect(
            e.value == truth, "\(where_) exact but \(e.value) != \(truth): \(e.condition)",
            sourceLocation: sourceLocation)
    }
    #expect(
        e.lower <= truth, "\(where_) lower \(e.lower) > truth \(truth): \(e.condition)", sourceLocation: sourceLocation)
    #expect(e.lower <= e.value, "\(where_) lower \(e.lower) > value \(e.value)", sourceLocation: sourceLocation)
    if let u = e.upper {
        #expect(truth <= u, "\(where_) truth \(truth) > upper \(u): \(e.condition)", sourceLocation: sourceLocation)
        #expect(e.value <= u, "\(where_) value \(e.value) > upper \(u)", sourceLocation: sourceLocation)
    }
    #expect(!e.condition.isEmpty, sourceLocation: sourceLocation)
}

let s: UInt64 = 1_000_000

struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
