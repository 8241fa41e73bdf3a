/// Kernel-side losses and unit-level conditions: not faults, but they bound what was missed.
public enum Marker: Sendable, Hashable {
    /// `<function>: N callbacks suppressed` — N *messages* the ratelimit dropped (lib/ratelimit.c).
    case suppressed(source: String, vendor: Vendor?, count: UInt64)
    /// A fault/event/page-request queue overflowed: records were lost in hardware.
    /// `log`: fault (Intel PFO), prq, event, ppr, ga (AMD), evtq, priq (SMMUv3).
    case overflow(vendor: Vendor, unit: String?, log: String)
    /// A unit-level error that is neither a device fault nor an overflow (GERROR, Service
    /// Failure Mode, MSI/queue write aborts, Completion-Wait timeout, CMDQ errors).
    case unitError(vendor: Vendor, unit: String?, what: String)
    /// A fault interrupt's handler printed the unit's fault status register (Intel
    /// `DRHD: handling fault status reg %x`): one handler run, which the Intel estimator counts
    /// (its ratelimit calls). Not counted as anything by itself.
    case faultStatus(vendor: Vendor, status: UInt32)
}

/// Platform facts printed at boot (kernel-formats.md §9, issue "boot inventory").
public enum InventoryItem: Sendable, Hashable {
    case iommuEnabled(Vendor)
    case iommuDisabled(Vendor?, reason: String)
    case passthrough(source: String)
    /// `DMAR: dmar0: reg_base_addr fed90000 ver 1:0 cap … ecap …`, `AMD-Vi: Found IOMMU at …`.
    case unit(
        vendor: Vendor, name: String?, address: UInt64?, version: String?, cap: UInt64?, ecap: UInt64?)
    /// `AMD-Vi: Found IOMMU at 0000:00:00.2 cap 0x40` (≤ 4.x) / `pci 0000:00:00.2: AMD-Vi: Found
    /// IOMMU cap 0x40` (later): an AMD unit, named by its own PCI function (not yet `ivhdN`).
    case amdFound(device: PCIAddress?, cap: UInt64?)
    /// `DMAR: RMRR base: 0x… end: 0x…` — DMA into these ranges is firmware's.
    case rmrr(start: UInt64, end: UInt64)
    /// `DMAR-IR: Enabled IRQ remapping in x2apic mode`.
    case interruptRemapping(mode: String)
    /// The kernel command line (`Command line:` / `Kernel command line:`).
    case commandLine(String)
}

/// What the classifier makes of kernel records. Every output carries the sequence number of the
/// record that completed it, so a restart can tell what it already counted.
public enum ClassifierOutput: Sendable, Hashable {
    case fault(Fault)
    /// `tsUsec`: the record's kernel timestamp (the Intel estimator places it in a ratelimit window).
    case marker(Marker, seq: UInt64?, tsUsec: UInt64?)
    case inventory(InventoryItem, seq: UInt64?)
    /// Looked like an IOMMU message, matched no known format. Counted, never dropped.
    case unparsed(vendor: Vendor?, text: String, seq: UInt64?)

    public var seq: UInt64? {
        switch self {
        case .fault(let f): return f.seq
        case .marker(_, let s, _), .inventory(_, let s), .unparsed(_, _, let s): return s
        }
    }
}

extension ClassifierOutput {
    /// A marker proved by record `r` (its sequence number and timestamp).
    public static func marker(_ m: Marker, of r: KmsgRecord) -> ClassifierOutput {
        .marker(m, seq: r.seq, tsUsec: r.timestampUsec)
    }
}
