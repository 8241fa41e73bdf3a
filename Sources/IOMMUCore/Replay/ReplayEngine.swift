/// `iommud replay`: the daemon's classifier and ledger over saved logs — one code path, two
/// drivers (ARCHITECTURE.md). Feed it bytes; it frames, filters, classifies and counts.
///
/// Raw kmsg goes through exactly the daemon's fast path (`Classifier.wants` on the escaped
/// bytes). Text logs are decoded line by line (TextLogDecoder, JournalJSONDecoder); a line that
/// continues the record before it — the unstamped, indented second line dmesg and journalctl
/// print for a record with an embedded newline (the ≤4.6 Intel fault) — is joined to that
/// record, so the classifier sees the record as /dev/kmsg would have given it.
public struct ReplayEngine: Sendable {
    public var classifier: Classifier
    public var ledger = FaultLedger()
    public var topology = Topology()
    /// The format asked for (`auto` is resolved from the first bytes: `resolvedFormat`).
    public let format: ReplayFormat
    public private(set) var resolvedFormat: ReplayFormat?
    /// Bytes of an unfinished record or line carried to the next chunk.
    var carry: [UInt8] = []
    var outputs: [ClassifierOutput] = []
    public private(set) var recordsRead: UInt64 = 0
    /// Text formats: the last record, kept until the next line shows it is not continued.
    var pendingText: KmsgRecord?
    /// dmesg: whether lines carry stamps (then an unstamped line continues the previous record).
    var sawStamp = false

    public init(format: ReplayFormat, options: Classifier.Options = Classifier.Options()) {
        self.format = format
        self.classifier = Classifier(options: options)
        if format != .auto { resolvedFormat = format }
    }

    /// Feeds a chunk. Returns the faults it completed. The last call (`isFinal`) ends the input:
    /// held and unfinished groups are emitted with what they have. An unfinished record at the
    /// end is kept for the next call.
    public mutating func feed(_ chunk: UnsafeBufferPointer<UInt8>, isFinal: Bool) -> [Fault] {
        var faults: [Fault] = []
        if carry.isEmpty {
            let used = feed(buffered: chunk, isFinal: isFinal) { faults.append(copy $0) }
            carry.append(contentsOf: UnsafeBufferPointer(rebasing: chunk[used...]))
            return faults
        }
        // The chunk after the carried bytes, fed as one buffer; what is not used stays carried.
        var joined: [UInt8] = []
        swap(&joined, &carry)  // (feed(buffered:) runs with an empty carry)
        joined.append(contentsOf: chunk)
        let used = joined.withUnsafeBufferPointer {
            feed(buffered: $0, isFinal: isFinal) { faults.append(copy $0) }
        }
        joined.removeFirst(used)
        swap(&joined, &carry)
        return faults
    }

    /// `feed` for a caller that keeps the unfinished end itself (`iommud replay` reads into one
    /// buffer and moves the few bytes not `used` to its front before the next read: no copy of
    /// every chunk). Call it with an empty carry only, i.e. never mixed with `feed`. Returns how
    /// many bytes it used. `onFault` sees each fault the chunk completed, attributed, just before
    /// the ledger counts it (`replay --json` writes it there, without copying it).
    public mutating func feed(
        buffered bytes: UnsafeBufferPointer<UInt8>, isFinal: Bool, onFault: (borrowing Fault) -> Void = { _ in }
    ) -> Int {
        precondition(carry.isEmpty, "feed(buffered:) after feed(_:) left a carry")
        outputs.removeAll(keepingCapacity: true)
        let used = consume(bytes, isFinal: isFinal)
        if isFinal {
            endPendingText()
            classifier.finish(into: &outputs)
        }
        // Each output is moved out of the array into the ledger, the fault into its device's
        // summary: read in place instead, every string of every fault was retained for a copy
        // and released again (a large replay counts tens of thousands). A placeholder without
        // storage takes its slot, so the array stays whole.
        var done: [ClassifierOutput] = []
        swap(&done, &outputs)
        let topology = self.topology  // (read through self, its tables were retained per fault)
        done.withUnsafeMutableBufferPointer { outs in
            for i in outs.indices {
                let o = outs.moveElement(from: i)
                outs.initializeElement(at: i, to: .unparsed(vendor: nil, text: "", seq: nil))
                switch consume o {
                case .fault(var f):
                    topology.attribute(&f)
                    onFault(f)
                    ledger.recordFault(consume f, realtimeOffsetUsec: nil)
                case let other:
                    ledger.record(other)
                }
            }
        }
        swap(&done, &outputs)
        return used
    }

    mutating func consume(_ b: UnsafeBufferPointer<UInt8>, isFinal: Bool) -> Int {
        if resolvedFormat == nil {
            // Auto: decide from the first complete lines (up to 64 KiB), or all there is.
            guard isFinal || b.count >= 64 * 1024 || b.lastIndex(of: 0x0a) != nil else { return 0 }
            let sample = String(decoding: UnsafeBufferPointer(rebasing: b[..<min(b.count, 64 * 1024)]), as: UTF8.self)
            resolvedFormat = ReplayFormat.detect(sample)
        }
        switch resolvedFormat ?? .kmsg {
        case .kmsg, .auto:
            let options = classifier.options
            var lastSeq: UInt64?
            var count: UInt64 = 0
            var previous: KmsgRecord?  // (its dictionary values are shared when they repeat)
            let used = KmsgFraming.forEachRecord(in: b, isFinal: isFinal) { rec, lineEnd in
                guard let layout = KmsgRecordParser.layout(rec, firstLineEnd: lineEnd) else { return }
                count += 1
                lastSeq = layout.seq
                // The fast path: most records end here, before any String is made.
                guard Classifier.wants(layout: layout, bytes: rec, options: options) else { return }
                let record = KmsgRecordParser.record(rec, layout: layout, previous: previous)
                classifier.classify(record, into: &outputs)
                previous = record
            }
            recordsRead += count
            ledger.recordKmsg(records: count, lastSeq: lastSeq)
            return used
        case .dmesg, .journal, .journalJSON:
            var start = 0
            var i = 0
            while i < b.count {
                if b[i] == 0x0a {
                    line(UnsafeBufferPointer(rebasing: b[start..<i]))
                    start = i + 1
                }
                i += 1
            }
            if isFinal && start < b.count {
                line(UnsafeBufferPointer(rebasing: b[start..<b.count]))
                return b.count
            }
            return start
        }
    }

    mutating func line(_ bytes: UnsafeBufferPointer<UInt8>) {
        var end = bytes.count
        if end > 0 && bytes[end - 1] == 0x0d { end -= 1 }  // CRLF pastes
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[..<end]), as: UTF8.self)
        let sub = text[...]
        switch resolvedFormat ?? .dmesg {
        case .journalJSON:
            endPendingText()
            guard let r = JournalJSONDecoder.record(text) else { return }
            take(r)
        case .journal:
            if let r = TextLogDecoder.journal(sub) {
                endPendingText()
                pendingText = r
                recordsRead += 1
                ledger.recordKmsg(records: 1, lastSeq: nil)
            } else if sub.first == " " || sub.first == "\t", pendingText != nil {
                continueText(sub)  // the indented further line of a multi-line message
            } else {
                endPendingText()  // another process, or a `-- Boot … --` separator
            }
        default:
            if sub.allSatisfy({ $0 == " " || $0 == "\t" }) { return }
            guard let d = TextLogDecoder.dmesgLine(sub) else { return }
            if sawStamp && !d.stamped && pendingText != nil {
                continueText(sub)  // the unstamped second line of a multi-line record
                return
            }
            if d.stamped { sawStamp = true }
            endPendingText()
            pendingText = d.record
            recordsRead += 1
            ledger.recordKmsg(records: 1, lastSeq: nil)
        }
    }

    /// A decoded record that cannot be continued (JSON): classify now.
    mutating func take(_ r: KmsgRecord) {
        recordsRead += 1
        ledger.recordKmsg(records: 1, lastSeq: nil)
        if Classifier.wants(r, options: classifier.options) { classifier.classify(r, into: &outputs) }
    }

    mutating func continueText(_ line: Substring) {
        guard var r = pendingText else { return }
        r.text += "\n" + String(line.drop { $0 == " " || $0 == "\t" })
        pendingText = r
    }

    mutating func endPendingText() {
        guard let r = pendingText else { return }
        pendingText = nil
        if Classifier.wants(r, options: classifier.options) { classifier.classify(r, into: &outputs) }
    }
}
