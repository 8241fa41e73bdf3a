import IOMMUCore
import Testing

@testable import IOMMUDaemon

/// `iommud_unparsed_iommu_lines_total{vendor}` as /metrics renders it: each line a parser could not
/// read is counted under the family it belongs to (Fixtures/unparsed/kmsg.txt: an Intel ≤4.6 reason line
/// without its first line, an AMD event of an unknown name and one cut short, an SMMUv3 dump whose
/// header was lost and a second decoded line alone), beside the faults the same log holds.
@Suite("Unparsed IOMMU lines in /metrics")
struct UnparsedMetricsTests {
    @Test("the vendor label of iommud_unparsed_iommu_lines_total: intel, amd, arm-smmu-v3")
    func vendorLabel() {
        var p = KmsgPipeline(fromStartOfBoot: false)
        readTestFile(fixturesRoot + "/unparsed/kmsg.txt").withBytes { p.read(stream: $0, isFinal: true) }
        _ = p.commit()
        let snapshot = DaemonCore.Snapshot(
            ledger: p.ledger, topology: Topology(), generation: 1,
            position: CountedPosition(countedSeq: nil, pendingSinceAtCount: nil))
        let metrics = String(
            decoding: MetricsExporter().render(snapshot, extras: .init(), process: ProcessStats()), as: UTF8.self)
        #expect(metrics.contains("\n# TYPE iommud_unparsed_iommu_lines_total counter\n"), "\(metrics)")
        for line in [
            "iommud_unparsed_iommu_lines_total{vendor=\"amd\"} 2",
            "iommud_unparsed_iommu_lines_total{vendor=\"arm-smmu-v3\"} 2",
            "iommud_unparsed_iommu_lines_total{vendor=\"intel\"} 1",
        ] {
            #expect(metrics.contains("\n" + line + "\n"), "\(line) missing in:\n\(metrics)")
        }
        // The faults of the same log are counted as faults, not as unparsed lines.
        #expect(p.ledger.totalFaults == 2)
    }
}
