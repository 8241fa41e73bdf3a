// libFuzzer target: `iommud replay` over arbitrary bytes in every input format (ReplayEngine:
// format detection, dmesg/journal/JSON line decoding, continuation joining, kmsg framing),
// fed in two chunks cut where the input says, plus the ledger and status rendering it feeds.

@testable import IOMMUCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzReplay(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let cut = size > 0 ? Int(bytes[0]) * size / 256 : 0
    for format in ReplayFormat.allCases {
        var e = ReplayEngine(format: format)
        var faults: [Fault] = []
        faults += e.feed(UnsafeBufferPointer(rebasing: bytes[..<cut]), isFinal: false)
        faults += e.feed(UnsafeBufferPointer(rebasing: bytes[cut...]), isFinal: false)
        faults += e.feed(UnsafeBufferPointer(start: nil, count: 0), isFinal: true)
        precondition(e.classifier.pendingSince == nil)
        for f in faults { precondition(Fault(json: f.jsonLine()) != nil, "replay --json line does not read back") }
        if format == .auto { _ = StatusReport(ledger: e.ledger, topology: e.topology, daemon: nil).text() }
    }
    _ = ReplayFormat.detect(String(decoding: bytes, as: UTF8.self))
    return 0
}
