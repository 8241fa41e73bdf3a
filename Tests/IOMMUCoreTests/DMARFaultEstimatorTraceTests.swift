import IOMMUCore
import Testing

/// Traces of real storms (Fixtures/estimate/README.md): kmsg records through the `Classifier`, the
/// daemon's /proc/interrupts samples, checkpoint and restart; the estimate against the truth.
/// A trace fed through the daemon's own path: `KmsgPipeline` (classifier, attribution, ledger —
/// which feeds its estimator), a commit with the interrupt sample at each `@interrupts`, the
/// checkpoint written and read back by `CheckpointCodec` at `@checkpoint` / `@restart`.
struct EstimateTrace {
    var name: String
    var pipeline: KmsgPipeline
    var truth: [String: UInt64] = [:]
    var expectExact: [String: Bool] = [:]
    var problems: [String] = []

    var estimator: DMARFaultEstimator { pipeline.ledger.dmarEstimator }

    static func newPipeline(_ shape: DMARFaultEstimator.KernelShape, resume: CheckpointState? = nil) -> KmsgPipeline {
        var ledger = resume?.ledger ?? FaultLedger()
        if resume == nil { ledger.dmarEstimator = DMARFaultEstimator(shape: shape) }
        return KmsgPipeline(
            fromStartOfBoot: false, resume: resume.map { ($0.resumeSeq, $0.countedSeq) }, ledger: ledger)
    }

    /// `withInterrupts: false`: the log alone, as `iommud replay` reads a saved one.
    init(file: String, shape: DMARFaultEstimator.KernelShape = .perCall, withInterrupts: Bool = true) {
        name = file
        pipeline = Self.newPipeline(shape)
        let lines = Fixtures.read(file).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var checkpoint: (text: String, index: Int)?
        var i = 0
        var replaying: Int? = nil  // after @restart: the index where replay stops (only records)
        // The traces keep only dmar_fault()'s records: renumbered 1, 2, 3… so the dropped rest of
        // the ring is not a gap (a gap is a loss, which the estimator must count).
        var seqOf: [Int: Int] = [:]
        func feed(_ line: String, at index: Int) {
            guard let semi = line.firstIndex(of: ";") else {
                problems.append("not a record: \(line)")
                return
            }
            let head = line[..<semi].split(separator: ",", omittingEmptySubsequences: false)
            guard head.count >= 4 else {
                problems.append("not a record: \(line)")
                return
            }
            let seq = seqOf[index] ?? (seqOf.count + 1)
            seqOf[index] = seq
            let raw = "\(head[0]),\(seq),\(head[2]),\(head[3])" + line[semi...] + "\n"
            raw.withBytes { pipeline.read(record: $0) }
        }
        func commit(_ sample: [InterruptObservation]? = nil) {
            pipeline.idle()
            _ = pipeline.commit(interrupts: sample)
        }
        while i < lines.count {
            let line = lines[i]
            defer { i += 1 }
            if let stop = replaying, i == stop { replaying = nil; continue }
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("@") {
                let f = line.split(separator: " ").map(String.init)
                if replaying != nil { continue }  // the killed daemon's samples are gone
                switch f[0] {
                case "@interrupts":
                    // A batch ends where the daemon samples.
                    let sample = f.dropFirst().map { kv -> InterruptObservation in
                        let p = kv.split(separator: "=")
                        return InterruptObservation(
                            irq: 40, unit: String(p[0]), vector: "fault", counts: ["CPU0": UInt64(p[1])!])
                    }
                    commit(withInterrupts ? sample : nil)
                case "@truth":
                    for kv in f.dropFirst() {
                        let p = kv.split(separator: "=")
                        truth[String(p[0])] = UInt64(p[1])!
                    }
                case "@expect":
                    // @expect dmar0 exact=true
                    expectExact[f[1]] = f.count > 2 && f[2] == "exact=true"
                case "@checkpoint":
                    commit()
                    let pos = pipeline.checkpointPosition
                    let state = CheckpointState(
                        bootID: "trace", resumeSeq: pos.resumeSeq, countedSeq: pos.countedSeq, writtenUsec: 0,
                        ledger: pipeline.ledger, lifetime: LifetimeTotals())
                    checkpoint = (CheckpointCodec.encode(state), i)
                case "@restart":
                    // The daemon comes back with the checkpoint's state and reads every record
                    // after it again: rewind to the checkpoint, replay records up to here.
                    guard let c = checkpoint else {
                        problems.append("@restart without @checkpoint")
                        continue
                    }
                    do {
                        let state = try CheckpointCodec.decode(c.text)
                        pipeline = Self.newPipeline(shape, resume: state)
                    } catch {
                        problems.append("checkpoint: \(error)")
                    }
                    replaying = i
                    i = c.index
                default:
                    problems.append("unknown directive \(line)")
                }
                continue
            }
            feed(line, at: i)
        }
        commit()
    }
}

@Suite("DMAR fault estimator: real storms under QEMU")
struct DMARFaultEstimatorTraceTests {
    static let files = Fixtures.files(in: ["estimate"])

    @Test("there are traces")
    func present() { #expect(Self.files.count >= 5) }

    @Test("estimate == truth where exact, lower <= truth <= upper everywhere", arguments: files)
    func trace(file: String) {
        let t = EstimateTrace(file: file)
        #expect(t.problems.isEmpty, "\(t.problems)")
        #expect(!t.truth.isEmpty, "\(file) has no @truth")
        let est = t.estimator.estimates()
        for (unit, truth) in t.truth {
            guard let e = est[unit] else {
                Issue.record("\(file): no estimate for \(unit)")
                continue
            }
            holds(e, truth: truth, file)
            if let want = t.expectExact[unit] {
                #expect(e.exact == want, "\(file) \(unit): exact \(e.exact), the trace says \(want): \(e.condition)")
            }
            let saved = EstimateTrace(file: file, withInterrupts: false).estimator.total()
            holds(saved, truth: t.truth.values.reduce(0, +), "\(file), the log alone")
            print(
                "estimate \(file) \(unit): the log alone \(saved.value) [\(saved.lower), \(saved.upper.map(String.init) ?? "-")]; truth \(truth) value \(e.value) lower \(e.lower) upper \(e.upper.map(String.init) ?? "-") exact \(e.exact) | \(e.condition)"
            )
        }
    }
}
