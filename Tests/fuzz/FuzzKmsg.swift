// libFuzzer target: /dev/kmsg framing and record parsing (KmsgFraming, KmsgRecordParser,
// unescaping, dictionaries) and the sequence tracker, over arbitrary bytes. Built by run.sh
// against Sources/IOMMUCore compiled once, instrumented, into a static library.

@testable import IOMMUCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKmsg(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    var tracker = KmsgSequenceTracker(resumeAfter: size > 0 ? UInt64(bytes[0]) : nil, countedThrough: 300)
    // The stream as /dev/kmsg-in-a-file: every split point a reader could see.
    let cut = size > 1 ? Int(bytes[size - 1]) % size : 0
    for final in [false, true] {
        var consumed = 0
        for part in [0..<cut, 0..<size] where part.upperBound > consumed {
            let window = UnsafeBufferPointer(rebasing: bytes[consumed..<part.upperBound])
            consumed += KmsgFraming.forEachRecord(in: window, isFinal: final && part.upperBound == size) { rec, _ in
                guard let layout = KmsgRecordParser.layout(rec) else { return }
                precondition(layout.text.upperBound <= rec.count && layout.dictionary.upperBound <= rec.count)
                let r = KmsgRecordParser.record(rec, layout: layout)
                precondition(r.priority == layout.priority && r.seq == layout.seq)
                _ = r.dictionaryDevice(bus: "pci")
                _ = r.dictionaryDevice(bus: "iommu")
                _ = tracker.observe(layout.seq)
            }
            precondition(consumed <= size)
        }
    }
    // One read() = one record.
    if let r = KmsgRecordParser.parse(bytes) { _ = KmsgRecordParser.parse(r.text) }
    _ = KmsgRecordParser.unescape(bytes)
    return 0
}
