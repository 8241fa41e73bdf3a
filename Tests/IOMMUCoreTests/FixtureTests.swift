import IOMMUCore
import Testing

/// Every fixture file, every era and vendor: the classifier must produce exactly what the file
/// says after each record. A new kernel format = one fixture + one case in one vendor file.
@Suite("Kernel-format fixtures")
struct FixtureTests {
    static let files = Fixtures.files(in: [
        "intel", "amd", "arm-smmu-v3", "arm-smmu", "common", "real", "rockchip-iommu", "ipmmu-vmsa", "mtk-iommu",
        "exynos-sysmmu", "apple-dart", "sun50i-iommu", "qcom-iommu", "msm-iommu", "tegra-mc", "virtio-iommu",
        "riscv-iommu", "omap-iommu", "fsl-pamu", "sprd-iommu", "partial", "iommu-trace",
    ])

    @Test("fixture", arguments: files)
    func fixture(_ file: String) {
        let runner = FixtureRunner(name: file, text: Fixtures.read(file))
        #expect(!runner.records.isEmpty, "\(file) has no records")
        let problems = runner.check()
        #expect(problems.isEmpty, "\(problems.count) mismatches:\n\(problems.joined(separator: "\n"))")
    }

    @Test("there are fixtures for every vendor")
    func coverage() {
        for vendor in FamilyCatalog.standard.descriptors.map(\.vendor.rawValue) {
            #expect(Self.files.contains { $0.hasPrefix(vendor + "/") }, "no fixtures for \(vendor)")
        }
    }

    /// Userspace (facility 1) records that imitate fault lines are never counted by default.
    @Test("userspace imitations are not counted")
    func userspace() {
        let text = """
            14,9000,1000,-;DMAR: [DMA Read NO_PASID] Request device [00:02.0] fault addr 0x1000 [fault reason 0x06] PTE Read access is not set
            => none
            11,9001,1001,-;AMD-Vi: Event logged [IO_PAGE_FAULT device=0000:06:00.0 domain=0x000e address=0xfffffff0 flags=0x0020]
            => none
            """
        let runner = FixtureRunner(name: "inline", text: text)
        #expect(runner.check().isEmpty)
        // With the test switch, the same records count.
        #expect(runner.run(options: .init(acceptUserFacility: true)).count == 2)
    }
}
