// libFuzzer target: the /proc/interrupts parser, the IOMMU vector naming and the interrupt
// ledger that folds samples (per-CPU maxima, totals) over arbitrary text.

@testable import IOMMUCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzInterrupts(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let rows = ProcInterruptsParser.parse(text)
    var sample: [InterruptObservation] = []
    for row in rows {
        precondition(row.counts.count <= size)
        for a in row.actions {
            guard let v = IOMMUVector(action: a) else { continue }
            var counts: [String: UInt64] = [:]
            for c in row.counts { counts[c.cpu] = c.count }
            sample.append(
                InterruptObservation(irq: row.irq, unit: v.unit ?? "unknown", vector: v.vector, counts: counts))
        }
    }
    var ledger = InterruptLedger()
    ledger.fold(sample)
    ledger.fold(sample)
    for s in sample { _ = ledger.total(unit: s.unit) }
    _ = ledger.totals
    return 0
}
