// Unsafe pointers here: byte-level record parser over the record's bytes (ByteScanner).

/// Where a v5.16+ page-table dump stands (kernel-formats.md §1.6, CONFIG_DMAR_DEBUG):
/// `dmar_fault_dump_ptes()` and `pgtable_walk()` (intel/iommu.c, first version 914ff7719e8a and
/// current strings) print, right after a DMA record and in this order:
///
/// 0. `Dump %s table entries for IOVA 0x%llx`
/// 1. `root entry: 0x%016llx` | `scalable mode root entry: hi …, low …` | `root table is not
///    present` (first version: `root table entry is not present`) — the last line
/// 2. `context entry: hi …, low …` | `context table is not present` (first: `context table entry
///    is not present`) — the last line
/// 3. `legacy mode page table is not present` | `pasid directory table is not present` (both
///    last) | `pasid dir entry: 0x%016llx`
/// 4. `pasid table entry[%d]: 0x%016llx`, index rising
/// 5. `scalable mode page table is not present` — the last line
/// 6. `pte level: %d, pte value: 0x%016llx`, level falling, then `page table not present at
///    level %d` (first: `PTE not present at level %d`) — the last line. A present pte (value & 3)
///    at level 1 or with the superpage bit (0x80, DMA_PTE_LARGE_PAGE) ends the walk: the last line.
///
/// So a dump's last line is known from what it prints. Lines that do not come in this order
/// (a root line after a pte line, a second `Dump`) are not one dump.
///
/// Dump lines without their fault (its record lost, or a paste that begins with the dump) show
/// a DMA fault of a unit at an IOVA, not its direction (`dma-read`/`dma-write` was the lost
/// record's T bit): no fault is made of them. As for SMMUv3 dump words without their header
/// (ArmSMMUv3.swift `Orphan`), a run of them that forms one dump counts as ONE unparsed record,
/// carried by its last line; the next Intel record, a line that cannot continue it, or the end
/// of the input also ends it. `flush` keeps it (the kernel may be between two printks).
struct PageTableDump: Sendable, Equatable {
    /// The stage of the last line (0 = the `Dump` line); -1 before any.
    var stage = -1
    /// pasid table entry index (stage 4) or pte level (stage 6) of the last line.
    var index: UInt64?
    var isComplete = false

    /// One line of a dump after its `Dump` line.
    struct Line: Sendable, Equatable {
        var stage: Int
        var index: UInt64?
        var isLast: Bool

        /// The dump line at `s` (after the `DMAR: ` prefix), or nil.
        init?(_ s: ByteScanner) {
            var s = s
            index = nil
            isLast = false
            if s.looksAt("root entry: ") || s.looksAt("scalable mode root entry: ") {
                stage = 1
            } else if s.looksAt("root table is not present") || s.looksAt("root table entry is not present") {
                (stage, isLast) = (1, true)
            } else if s.looksAt("context entry: ") {
                stage = 2
            } else if s.looksAt("context table is not present") || s.looksAt("context table entry is not present") {
                (stage, isLast) = (2, true)
            } else if s.looksAt("legacy mode page table is not present")
                || s.looksAt("pasid directory table is not present")
            {
                (stage, isLast) = (3, true)
            } else if s.looksAt("pasid dir entry: ") {
                stage = 3
            } else if s.skip("pasid table entry[") {
                stage = 4
                index = s.decimal()
            } else if s.looksAt("scalable mode page table is not present") {
                (stage, isLast) = (5, true)
            } else if s.skip("pte level: ") {
                stage = 6
                index = s.decimal()
                if let level = index, s.skip(", pte value: "), let value = s.hexOptionalPrefix(),
                    value & 0x3 != 0
                {
                    isLast = level <= 1 || value & 0x80 != 0  // present: a leaf ends the walk
                }
            } else if s.skip("page table not present at level ") || s.skip("PTE not present at level ") {
                (stage, isLast) = (6, true)
                index = s.decimal()
            } else {
                return nil
            }
        }
    }

    /// The `Dump` line.
    static var header: PageTableDump { PageTableDump(stage: 0) }

    /// Adds `line` if it continues this dump (a later stage, or the next pasid table entry or pte
    /// level); false if it cannot be a line of this dump.
    mutating func add(_ line: Line) -> Bool {
        guard !isComplete else { return false }
        if line.stage == stage, stage == 4 || stage == 6 {
            // Rising pasid table entry index; falling pte level (the `not present at level` line
            // names the level below the last pte line).
            if let i = line.index, let last = index {
                guard stage == 4 ? i > last : i < last else { return false }
            }
        } else if line.stage <= stage {
            return false
        }
        stage = line.stage
        index = line.index
        isComplete = line.isLast
        return true
    }
}
