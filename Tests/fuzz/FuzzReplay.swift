// libFuzzer target: `iommud replay` over arbitrary bytes in every input format — the daemon's
// KmsgPipeline fed in chunks cut where the input says (format detection, text line decoding,
// continuation joining, kmsg framing, the size limits), plus the ledger and the status report.

@testable import IOMMUCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzReplay(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let cut = size > 0 ? Int(bytes[0]) * size / 256 : 0
    for format in ReplayFormat.allCases {
        var p = KmsgPipeline(input: format == .kmsg ? .kmsg : .text(format), fromStartOfBoot: false)
        var faults: [Fault] = []
        p.read(stream: UnsafeBufferPointer(rebasing: bytes[..<cut]), isFinal: false)
        faults += p.commit().faults
        p.read(stream: UnsafeBufferPointer(rebasing: bytes[cut...]), isFinal: true)
        faults += p.commit().faults
        precondition(p.classifier.pendingSince == nil, "end of input left a group pending")
        for f in faults { precondition(Fault(json: f.jsonLine()) != nil, "replay --json line does not read back") }
        if format == .auto {
            let text = StatusReport(ledger: p.ledger, topology: p.topology, daemon: nil).text()
            precondition(!text.unicodeScalars.contains { $0.value == 0x1B }, "an escape reached the report")
        }
    }
    _ = ReplayFormat.detect(String(decoding: bytes, as: UTF8.self))
    // `replay --kernel-release` and /proc/sys/kernel/osrelease.
    _ = DMARFaultEstimator.KernelShape.forRelease(String(decoding: bytes.prefix(256), as: UTF8.self))
    return 0
}
