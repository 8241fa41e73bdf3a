// libFuzzer target: the checkpoint file (CheckpointCodec): what the daemon reads back from its
// state directory at every start. Whatever the bytes, decoding returns a state or an error;
// a state decoded encodes and decodes to itself, and its counts are within their types. Then the
// daemon's start goes on from it: counting resumes at the extremes of every type (a loss, a
// suppressed count and a record seq of UInt64.max), the lifetime totals fold it in, the storm
// tracker sees its last faults at absurd times, and status renders the result: nothing traps.

@testable import IOMMUCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckpoint(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let state = try? CheckpointCodec.decode(text) else { return 0 }
    _ = state.ledger.totalFaults
    _ = state.ledger.unitFaults()
    _ = StatusReport(ledger: state.ledger, topology: Topology(), daemon: nil).json()
    _ = StatusReport(ledger: state.ledger, topology: Topology(), daemon: nil).text()
    let again = CheckpointCodec.encode(state)
    guard let back = try? CheckpointCodec.decode(again) else {
        preconditionFailure("a checkpoint the codec wrote does not read back")
    }
    precondition(back.ledger.totalFaults == state.ledger.totalFaults)
    precondition(back.ledger.expected.totalFaults == state.ledger.expected.totalFaults)
    precondition(CheckpointCodec.encode(back) == again, "encode(decode(encode(s))) != encode(s)")
    resume(state)
    return 0
}

func resume(_ state: CheckpointState) {
    var l = state.ledger
    l.recordKmsg(records: .max, lastSeq: .max)
    l.recordLoss(LossRange(afterSeq: .max, beforeSeq: .max, count: .max))
    l.record(.marker(.suppressed(source: "dmar_fault", vendor: .intel, count: .max), seq: .max, tsUsec: .max))
    l.record(
        .marker(.suppressed(source: "amd_iommu_report_page_fault", vendor: .amd, count: .max), seq: nil, tsUsec: 0))
    var storms = StormTracker()
    var events: [StormTracker.Event] = []
    for d in state.ledger.devices.values.prefix(64) {
        guard var f = d.lastFault else { continue }
        l.record(.fault(f))
        f.timestampUsec = .max
        l.record(.fault(f))
        _ = storms.observe(f, events: &events)
        f.timestampUsec = 0
        _ = storms.observe(f, events: &events)
    }
    storms.advance(toUsec: .max, events: &events)
    var lifetime = state.lifetime
    lifetime.fold(l)
    lifetime.fold(l)
    _ = lifetime.including(l)
    _ = l.unitEstimates()
    var report = StatusReport(ledger: l, topology: Topology(), daemon: nil)
    report.lifetime = lifetime
    _ = report.text()
    _ = report.json()
}
