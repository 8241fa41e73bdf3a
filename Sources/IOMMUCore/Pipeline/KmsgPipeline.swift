// Unsafe pointers here: the pipeline hands framed record bytes to the header parser and the gate (hot path).

/// The one path a kernel record takes from bytes to counters — the same value behind
/// `iommud run` (its reader thread feeds it what `read(2)` returns from /dev/kmsg) and
/// `iommud replay` (fed file chunks), so a fixture that passes in replay passes in the daemon.
///
/// ```
///   bytes ─▶ framing ─▶ header ─▶ sequence (ExactlyOnce) ─▶ facility + prefilter ─▶ classifier
///                                        │ loss                                       │ outputs
///                                        ▼                                            ▼
///                                      staged ───────────── commit: attribute (Topology) ─▶ FaultLedger
/// ```
///
/// Two steps per batch. `read…` frames, tracks sequence numbers and classifies, staging what it
/// finds; `commit` attributes the staged outputs to units and devices and counts them. In
/// between, the caller does what the pipeline asks for (`requests`): a sysfs rescan when a fault
/// names a device the topology does not know, a /proc/interrupts sample when IOMMU records came.
/// The pipeline does no I/O. A checkpoint reads `checkpointPosition` and `ledger`, which change
/// only in `commit`, so it is consistent whenever it is taken.
public struct KmsgPipeline: Sendable {
    /// How the bytes given to `read(stream:isFinal:)` are laid out.
    public enum Input: Sendable, Equatable {
        /// /dev/kmsg records (`prio,seq,ts,flag;text` + dictionary lines).
        case kmsg
        /// A text log (dmesg, syslog, journalctl…), each line read in its own shape; with `auto`, a
        /// saved /dev/kmsg stream (its first line a record) takes the kmsg path until a line that
        /// is not a record, and the rest is read as text.
        case text(ReplayFormat)
    }

    /// What the caller should do before `commit`.
    public struct Requests: Sendable, Equatable {
        /// Faults name these devices and the topology has none of them: rescan sysfs (hotplug),
        /// at most as often as the caller allows; pass the result to `commit`.
        public var unknownDevices: [PCIAddress] = []
        /// IOMMU records were read: sample /proc/interrupts now, so interrupt counts stand beside
        /// the faults they raised.
        public var interruptSample = false
    }

    /// What one `commit` counted, in kmsg order, for the sinks that act on it (journal,
    /// actions, `replay --json`).
    public struct Commit: Sendable {
        /// Every output counted, faults attributed to their unit and device.
        public var outputs: [ClassifierOutput] = []
        public var losses: [LossRange] = []
        /// Records read (past what an earlier run had counted).
        public var records: UInt64 = 0
        /// The topology the faults were attributed with (device names for journal sentences).
        public var topology: Topology

        public var faults: [Fault] {
            outputs.compactMap { if case .fault(let f) = $0 { return f } else { return nil } }
        }
    }

    public private(set) var classifier: Classifier
    public private(set) var ledger: FaultLedger
    public private(set) var topology: Topology
    /// The `[[expected]]` rules faults are matched against when they are counted.
    public private(set) var expectedRules = ExpectedRules()
    private var tracker: KmsgSequenceTracker
    private var position: CountedPosition
    /// What the checkpoint's run counted of the records re-read after it (seq → outputs), used up
    /// as those outputs come again; nil: not known (`CountedPosition.countedAfterResume`).
    private var replayCounted: [UInt64: UInt32]?
    private var input: Input
    private var text: TextLogInput?
    /// `auto`: the first lines were looked at (the format they show is `detected`).
    private var detected: ReplayFormat?
    /// Bytes of an unfinished record carried to the next `read(stream:)`.
    private var carry: [UInt8] = []
    private var staged = Staged()
    /// Devices a rescan did not find: not asked for again until the topology is replaced.
    private var knownUnknown: Set<PCIAddress> = []
    /// Bumped whenever the ledger or the topology may have changed (the metrics cache).
    public private(set) var generation: UInt64 = 0

    /// A record, a dictionary line or a text line longer than this is skipped and counted in
    /// `oversizedRecords`, never buffered without end. /dev/kmsg records are < 8 KiB
    /// (CONSOLE_EXT_LOG_MAX, escaped); a journalctl JSON line of such a record as a byte array
    /// is ~40 KiB.
    public static let maxRecordBytes = 256 * 1024

    struct Staged: Sendable {
        var outputs: [ClassifierOutput] = []
        var records: UInt64 = 0
        var lastSeq: UInt64?
        var losses: [LossRange] = []
        var overruns: UInt64 = 0
        var malformed: UInt64 = 0
        var oversized: UInt64 = 0
        var candidates = 0
        var previous: KmsgRecord?
    }

    /// - Parameters:
    ///   - input: the layout of the bytes `read(stream:)` gets.
    ///   - fromStartOfBoot: the input holds the boot's log from its start (/dev/kmsg: records
    ///     before the first one read were lost); false for a saved log, an excerpt.
    ///   - resume: where a checkpoint of this boot left off (nil: read everything).
    ///   - countedOutputs: the checkpoint's `CountedPosition.countedAfterResume` (nil: not
    ///     known, an older checkpoint: every output of a re-read record is taken as counted).
    ///   - ledger: the checkpoint's counters, when it is of this boot.
    public init(
        options: Classifier.Options = Classifier.Options(), catalog: FamilyCatalog = .standard,
        input: Input = .kmsg, fromStartOfBoot: Bool = true, resume: (resumeSeq: UInt64?, countedSeq: UInt64?)? = nil,
        countedOutputs: [UInt64: UInt32]? = nil, ledger: FaultLedger = FaultLedger(), topology: Topology = Topology()
    ) {
        self.classifier = Classifier(options: options, catalog: catalog)
        self.ledger = ledger
        self.topology = topology
        self.input = input
        if case .text(let f) = input, f != .auto { text = TextLogInput(format: f) }
        self.tracker = KmsgSequenceTracker(
            resumeAfter: resume?.resumeSeq, countedThrough: resume?.countedSeq, fromStartOfBoot: fromStartOfBoot)
        self.position = CountedPosition(resumeSeq: resume?.resumeSeq, countedSeq: resume?.countedSeq)
        self.position.countedAfterResume = resume == nil ? [:] : countedOutputs
        self.replayCounted = countedOutputs
    }

    /// The input's format as decided (`auto`: what its first lines show; nil until then).
    public var resolvedFormat: ReplayFormat? {
        if let detected { return detected }
        if case .text(let f) = input { return f == .auto ? nil : f }
        return .kmsg
    }

    // MARK: - Reading (no I/O)

    /// One whole record, as one `read(2)` of /dev/kmsg returns it.
    public mutating func read(record bytes: UnsafeBufferPointer<UInt8>) {
        guard bytes.count <= Self.maxRecordBytes else {
            staged.oversized += 1
            return
        }
        _ = KmsgFraming.forEachRecord(in: bytes, isFinal: true) { rec, lineEnd in
            take(rec, firstLineEnd: lineEnd)
        }
    }

    /// The same, from an array's bytes.
    public mutating func read(stream bytes: ArraySlice<UInt8>, isFinal: Bool) {
        bytes.withUnsafeBufferPointer { read(stream: $0, isFinal: isFinal) }
    }

    /// The next bytes of a stream of records or lines (a FIFO, a regular file, a saved log).
    /// An unfinished record at the end is kept for the next call; `isFinal` ends the stream.
    public mutating func read(stream bytes: UnsafeBufferPointer<UInt8>, isFinal: Bool) {
        if case .text(.auto) = input, detected == nil {
            // A saved /dev/kmsg stream or text? Decided from the first complete lines (up to
            // 64 KiB), or all there is; text is then read line by line, each in its own shape.
            carry.append(contentsOf: bytes)
            guard isFinal || carry.count >= 64 * 1024 || carry.contains(0x0a) else { return }
            let format = carry.prefix(64 * 1024).withUnsafeBufferPointer { ReplayFormat.detect($0) }
            detected = format
            if format == .kmsg {
                input = .kmsg
            } else {
                text = TextLogInput(format: .auto)
            }
            var first: [UInt8] = []
            swap(&first, &carry)
            first.withUnsafeBufferPointer { read(stream: $0, isFinal: isFinal) }
            return
        }
        if text != nil {
            if !carry.isEmpty {
                // What the kmsg path had not framed yet when a line turned out not to be a record.
                var rest: [UInt8] = []
                swap(&rest, &carry)
                rest.withUnsafeBufferPointer { feedText($0, isFinal: false) }
            }
            feedText(bytes, isFinal: isFinal)
            if isFinal { endOfInput() }
            return
        }
        if carry.isEmpty {
            let used = KmsgFraming.forEachRecord(in: bytes, isFinal: isFinal) { take($0, firstLineEnd: $1) }
            keep(UnsafeBufferPointer(rebasing: bytes[used...]))
        } else {
            carry.append(contentsOf: bytes)
            var joined: [UInt8] = []
            swap(&joined, &carry)
            let used = joined.withUnsafeBufferPointer { b in
                KmsgFraming.forEachRecord(in: b, isFinal: isFinal) { take($0, firstLineEnd: $1) }
            }
            joined.withUnsafeBufferPointer { keep(UnsafeBufferPointer(rebasing: $0[used...])) }
        }
        if isFinal { endOfInput() }
    }

    /// Keeps the unfinished end of a stream, unless it is already longer than any record may
    /// be: then it is dropped up to its next line and counted (a file with no newline must not
    /// grow the buffer without end).
    private mutating func keep(_ rest: UnsafeBufferPointer<UInt8>) {
        guard rest.count > Self.maxRecordBytes else {
            carry.append(contentsOf: rest)
            return
        }
        staged.oversized += 1
        if let nl = rest.firstIndex(of: 0x0a) {
            carry.append(contentsOf: rest[(nl + 1)...])
        }
    }

    /// Text lines to `text`, which is out of `self` meanwhile (one holder: its buffers are not copied).
    private mutating func feedText(_ bytes: UnsafeBufferPointer<UInt8>, isFinal: Bool) {
        guard var t = text else { return }
        text = nil
        t.feed(bytes, isFinal: isFinal) { r in take(text: r) }
        staged.oversized += t.takeOversized()
        text = t
    }

    /// The reader fell behind the ring buffer (EPIPE): the seq gap on the next record says how
    /// many records were lost; this counts that it happened.
    public mutating func readerOverran() {
        staged.overruns += 1
    }

    /// The source went quiet: a stream's record whose lines are whole is as complete as it gets
    /// (its dictionary lines may never come), and faults held only to see whether a detail line
    /// follows are released. Groups still missing records stay pending.
    public mutating func idle() {
        // Only whole lines: a line without its newline is a write still under way (a reader of a
        // regular file can see the first page of a write that spans two), not a record.
        if carry.last == 0x0a, case .kmsg = input {
            var rest: [UInt8] = []
            swap(&rest, &carry)
            rest.withUnsafeBufferPointer { b in
                _ = KmsgFraming.forEachRecord(in: b, isFinal: true) { take($0, firstLineEnd: $1) }
            }
        }
        classifier.flush(into: &staged.outputs)
    }

    /// End of input (replay): every group still missing records is emitted with what it has.
    public mutating func endOfInput() {
        if var t = text {
            text = nil
            // (An unfinished last line the kmsg path handed over is complete now.)
            t.feed(UnsafeBufferPointer(start: nil, count: 0), isFinal: true) { r in take(text: r) }
            t.finish { r in take(text: r) }
            staged.oversized += t.takeOversized()
            text = t
        }
        classifier.finish(into: &staged.outputs)
    }

    /// One raw record: header, sequence accounting, then the fast path's gate — most records
    /// end there, before any String is made.
    private mutating func take(_ bytes: UnsafeBufferPointer<UInt8>, firstLineEnd: Int) {
        if text != nil {
            feedText(bytes, isFinal: false)  // `auto` found a line that is not a record: text from here
            return
        }
        guard bytes.count <= Self.maxRecordBytes else {
            staged.oversized += 1
            return
        }
        guard let layout = KmsgRecordParser.layout(bytes, firstLineEnd: firstLineEnd) else {
            if detected == .kmsg {  // `auto` took it for kmsg: text from here on
                input = .text(.auto)
                text = TextLogInput(format: .auto)
                feedText(bytes, isFinal: false)
                return
            }
            staged.malformed += 1
            return
        }
        switch tracker.observe(layout.seq) {
        case .skip:
            return
        case .replay:
            // Counted by an earlier run: classified only to rebuild its group (its outputs are
            // not counted again: `commit` drops what carries a seq the checkpoint counted).
            break
        case .accept(let lost, let after):
            if lost > 0 {
                staged.losses.append(LossRange(afterSeq: after, beforeSeq: layout.seq, count: lost))
                // /dev/kmsg: records never seen broke every unfinished group; each is emitted with
                // what it has (partial), so the lines after the gap are not taken for the rest of
                // it (an SMMUv3 dump completed with the next event's words). A saved excerpt's
                // gaps are often only lines filtered out (`grep`), so there groups go on.
                if tracker.fromStartOfBoot { classifier.finish(into: &staged.outputs) }
            }
            staged.records += 1
            staged.lastSeq = layout.seq
        }
        guard classifier.wants(layout: layout, bytes: bytes) else { return }
        let record = KmsgRecordParser.record(bytes, layout: layout, previous: staged.previous)
        staged.previous = record
        staged.candidates += 1
        classifier.classify(record, into: &staged.outputs)
    }

    /// A record of a text log: counted, then the gate on its bytes as the shape printed them
    /// (an escape never splits a word the prefilter looks for); only a candidate becomes a String.
    private mutating func take(text r: TextLogRecord) {
        staged.records += 1
        if let seq = r.seq { staged.lastSeq = max(staged.lastSeq ?? 0, seq) }
        guard classifier.wants(facility: r.facility, text: r.text) else { return }
        staged.candidates += 1
        classifier.classify(r.record(), into: &staged.outputs)
    }

    // MARK: - Between reading and counting

    public var requests: Requests {
        var r = Requests()
        r.interruptSample = staged.candidates > 0
        guard topology.scanned else { return r }
        for o in staged.outputs {
            guard case .fault(let f) = o, let d = f.device, topology.isUnknown(d), !knownUnknown.contains(d),
                !r.unknownDevices.contains(d)
            else { continue }
            r.unknownDevices.append(d)
        }
        return r
    }

    /// A fresh scan of sysfs. A periodic rescan (`forgetUnknown`) also forgets which devices an
    /// earlier rescan did not find.
    public mutating func replaceTopology(_ fresh: Topology, forgetUnknown: Bool = true) {
        topology = fresh.carryingGoneDevices(from: topology)
        if forgetUnknown { knownUnknown.removeAll() }
        generation &+= 1
    }

    // MARK: - Counting

    /// Attributes and counts what was staged since the last commit.
    /// - Parameters:
    ///   - rescanned: the sysfs scan done for `requests.unknownDevices`, if one was done; devices
    ///     still unknown after it are not asked for again until the next periodic rescan.
    ///   - interrupts: the /proc/interrupts sample taken for `requests.interruptSample`.
    ///   - realtimeOffsetUsec: realtime − monotonic now, to date faults in wall time.
    public mutating func commit(
        rescanned: Topology? = nil, interrupts: [InterruptObservation]? = nil, realtimeOffsetUsec: Int64? = nil
    ) -> Commit {
        if let rescanned {
            let asked = requests.unknownDevices
            replaceTopology(rescanned, forgetUnknown: false)
            for d in asked where topology.isUnknown(d) { knownUnknown.insert(d) }
        }
        var done = Staged()
        swap(&done, &staged)
        var commit = Commit(topology: topology)
        commit.outputs.reserveCapacity(done.outputs.count)
        var countedSeqs: [UInt64] = []
        for var o in done.outputs {
            if tracker.wasCounted(o.seq) {
                // Counted by the earlier run, unless it was still held when that run counted.
                guard replayCounted != nil, let s = o.seq else { continue }
                if let n = replayCounted![s], n > 0 {
                    replayCounted![s] = n - 1
                    continue
                }
            }
            if let s = o.seq { countedSeqs.append(s) }
            if case .fault(var f) = o {
                topology.attribute(&f)
                f.expectedRule = expectedRules.firstMatch(f, topology: topology)?.name
                o = .fault(f)
            }
            ledger.record(o, realtimeOffsetUsec: realtimeOffsetUsec)
            commit.outputs.append(o)
        }
        for loss in done.losses { ledger.recordLoss(loss) }
        for _ in 0..<min(done.overruns, 1 << 20) { ledger.recordOverrun() }
        ledger.recordMalformed(done.malformed, oversized: done.oversized)
        ledger.recordKmsg(records: done.records, lastSeq: done.lastSeq)
        if let obs = interrupts { ledger.recordInterrupts(obs) }
        // The ledger and the classifier agree again: this is what a checkpoint pairs.
        if let last = ledger.lastSeq { position.countedSeq = max(last, position.countedSeq ?? 0) }
        position.pendingSinceAtCount = Self.pendingAtCount(
            classifier.pendingSince, loaded: position.pendingSinceAtCount, replaying: tracker.isReplaying)
        position.remember(countedSeqs)
        staged.previous = done.previous
        commit.losses = done.losses
        commit.records = done.records
        if !commit.outputs.isEmpty || !done.losses.isEmpty || done.records > 0 { generation &+= 1 }
        return commit
    }

    /// The expected-fault rules (at start, and on reload): faults counted from now on are
    /// matched against them; the ledger keeps each rule's counts by name (`ExpectedLedger`).
    public mutating func setExpectedRules(_ rules: ExpectedRules) {
        expectedRules = rules
        ledger.expected.configure(rules.names)
        generation &+= 1
    }

    /// The oldest unfinished group as of this commit: the classifier's, or — while the records
    /// an earlier run counted are still being re-read — the loaded one too, whichever is older.
    static func pendingAtCount(_ live: UInt64?, loaded: UInt64?, replaying: Bool) -> UInt64? {
        guard replaying, let loaded else { return live }
        return min(loaded, live ?? loaded)
    }

    /// At most this many devices get series of their own (`FaultLedger.deviceLimit`).
    public mutating func setDeviceLimit(_ n: Int) {
        ledger.deviceLimit = max(1, n)
    }

    /// Interrupt counts sampled outside a batch (a scrape, `status`).
    public mutating func recordInterrupts(_ obs: [InterruptObservation]) {
        ledger.recordInterrupts(obs)
    }

    /// The position a checkpoint pairs with `ledger` (rule 2 of ExactlyOnce.swift).
    public var checkpointPosition: CountedPosition { position }
}
