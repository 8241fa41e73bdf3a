/// Platform facts printed at boot: IOMMU enabled, units with cap/ecap, RMRR regions, interrupt
/// remapping mode, the command line — kernel-formats.md §9 "boot inventory".
enum BootInventoryParser {
    static func consume(_ r: KmsgRecord, into out: inout [ClassifierOutput]) -> Bool {
        let t = r.text
        if t == "DMAR: IOMMU enabled" {
            out.append(.inventory(.iommuEnabled(.intel), seq: r.seq))
            return true
        }
        if t.hasPrefix("Kernel command line: ") || t.hasPrefix("Command line: ") {
            let line = t.hasPrefix("Kernel") ? t.dropFirst(21) : t.dropFirst(14)
            out.append(.inventory(.commandLine(String(line)), seq: r.seq))
            return true
        }
        return false
    }
}
