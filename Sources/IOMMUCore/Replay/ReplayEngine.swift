/// `iommud replay`: the daemon's classifier and ledger over saved logs — one code path, two
/// drivers (ARCHITECTURE.md). Feed it bytes; it frames, filters, classifies and counts.
public struct ReplayEngine: Sendable {
    public var classifier: Classifier
    public var ledger = FaultLedger()
    public var topology = Topology()
    public let format: ReplayFormat
    /// Bytes of an unfinished record or line carried to the next chunk.
    var carry: [UInt8] = []
    var outputs: [ClassifierOutput] = []
    public private(set) var recordsRead: UInt64 = 0

    public init(format: ReplayFormat, options: Classifier.Options = Classifier.Options()) {
        self.format = format
        self.classifier = Classifier(options: options)
    }

    /// Feeds a chunk. Returns the faults it completed (for `--json` streaming).
    public mutating func feed(_ chunk: UnsafeBufferPointer<UInt8>, isFinal: Bool) -> [Fault] {
        outputs.removeAll(keepingCapacity: true)
        if carry.isEmpty {
            let used = consume(chunk, isFinal: isFinal)
            carry.append(contentsOf: UnsafeBufferPointer(rebasing: chunk[used...]))
        } else {
            carry.append(contentsOf: chunk)
            let joined = carry
            carry.removeAll(keepingCapacity: true)
            joined.withUnsafeBufferPointer { b in
                let used = consume(b, isFinal: isFinal)
                carry.append(contentsOf: UnsafeBufferPointer(rebasing: b[used...]))
            }
        }
        if isFinal { classifier.flush(into: &outputs) }
        var faults: [Fault] = []
        for var o in outputs {
            if case .fault(var f) = o {
                topology.attribute(&f)
                o = .fault(f)
                faults.append(f)
            }
            ledger.record(o)
        }
        return faults
    }

    mutating func consume(_ b: UnsafeBufferPointer<UInt8>, isFinal: Bool) -> Int {
        switch format {
        case .kmsg, .auto:
            let options = classifier.options
            var lastSeq: UInt64?
            var count: UInt64 = 0
            let used = KmsgFraming.forEachRecord(in: b, isFinal: isFinal) { rec in
                guard let layout = KmsgRecordParser.layout(rec) else { return }
                count += 1
                lastSeq = layout.seq
                // The fast path: most records end here, before any String is made.
                guard Classifier.wants(layout: layout, bytes: rec, options: options) else { return }
                classifier.classify(KmsgRecordParser.record(rec, layout: layout), into: &outputs)
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
        let text = String(decoding: bytes, as: UTF8.self)
        let record: KmsgRecord?
        switch format {
        case .journal: record = TextLogDecoder.journal(text[...])
        case .journalJSON: record = JournalJSONDecoder.record(text)
        default: record = TextLogDecoder.dmesg(text[...])
        }
        guard let record else { return }
        recordsRead += 1
        ledger.recordKmsg(records: 1, lastSeq: record.seq)
        let wants = record.text.withBytes { IOMMUPrefilter.mightBeIOMMU($0) }
        if wants || classifier.pendingSince != nil || !record.isKernel {
            classifier.classify(record, into: &outputs)
        }
    }
}
