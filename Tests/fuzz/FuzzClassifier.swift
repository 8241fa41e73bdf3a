// libFuzzer target: records through the daemon's gate and classifier (Classifier.wants →
// classify, flush between batches, finish at the end), with the invariants every output must
// keep. Input: a kmsg byte stream; a byte of it decides where the reader "goes idle".

@testable import IOMMUCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzClassifier(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    // Pass 1 as the daemon reads: raw bytes through the gate, flushes between batches.
    do {
        let options = Classifier.Options(acceptUserFacility: size % 2 == 1)
        var c = Classifier(options: options)
        var out: [ClassifierOutput] = []
        var seqs: [UInt64] = []
        var n = 0
        _ = KmsgFraming.forEachRecord(in: bytes, isFinal: true) { rec, _ in
            guard let layout = KmsgRecordParser.layout(rec) else { return }
            n += 1
            seqs.append(layout.seq)
            if c.wants(layout: layout, bytes: rec) {
                c.classify(KmsgRecordParser.record(rec, layout: layout), into: &out)
            }
            if n % 7 == Int(size % 7) { c.flush(into: &out) }
            if let p = c.pendingSince { precondition(seqs.contains(p), "pendingSince names a record never read") }
        }
        c.finish(into: &out)
        precondition(c.pendingSince == nil, "finish left a group pending")
        for o in out {
            if let s = o.seq { precondition(seqs.contains(s), "output for a seq that was not read") }
            if case .fault(let f) = o {
                _ = f.jsonLine()
                precondition(!f.kind.rawValue.isEmpty)
                if let r = f.reason { precondition(r <= 0xff) }
            }
        }
    }
    // Pass 2 as replay of decoded text: every record through the text-record gate.
    let options = Classifier.Options(acceptUserFacility: true)
    var c2 = Classifier(options: options)
    var out2: [ClassifierOutput] = []
    _ = KmsgFraming.forEachRecord(in: bytes, isFinal: true) { rec, _ in
        guard let r = KmsgRecordParser.parse(rec), c2.wants(r) else { return }
        c2.classify(r, into: &out2)
    }
    c2.finish(into: &out2)
    precondition(c2.pendingSince == nil)
    return 0
}
