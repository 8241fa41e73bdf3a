/// One numeric row of /proc/interrupts (kernel/irq/proc.c `show_interrupts()`).
public struct InterruptRow: Sendable, Equatable {
    /// The IRQ number.
    public var irq: UInt32
    /// Counts per online CPU, labelled by the header (`CPU0`, `CPU3`, …): the columns follow
    /// the online CPUs at read time, so the label, not the position, names the CPU.
    public var counts: [(cpu: String, count: UInt64)]
    /// Chip, hwirq and flow, as printed (`DMAR-MSI   0-edge`, `GIC-0 106 Edge`).
    public var chip: String
    /// The action names (shared IRQs list several, joined by `, ` in the file).
    public var actions: [String]

    public var total: UInt64 { counts.reduce(0) { $0 + $1.count } }

    public static func == (l: Self, r: Self) -> Bool {
        l.irq == r.irq && l.chip == r.chip && l.actions == r.actions && l.counts.map(\.cpu) == r.counts.map(\.cpu)
            && l.counts.map(\.count) == r.counts.map(\.count)
    }
}

/// Parses /proc/interrupts: a header of `CPUn` labels, numeric rows with one count per label,
/// and arch summary rows (`NMI:`, `LOC:`, `ERR:`, `MIS:` with a single value, ARM `IPI0:`,
/// `Err:`) that are skipped. Never traps on odd input: unknown rows are ignored.
///
/// Over the file's bytes: the daemon reads it on every scrape and while IOMMU records come, and
/// a large machine's file has a column per CPU (MiBs at 4,096 CPUs).
public enum ProcInterruptsParser {
    private static let space = UInt8(ascii: " ")

    public static func parse(_ text: String) -> [InterruptRow] {
        let bytes = Array(text.utf8)
        var rows: [InterruptRow] = []
        var cpus: [String] = []
        var sawHeader = false
        var start = 0
        while start < bytes.count {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            let line = bytes[start..<end]
            start = end + 1
            if line.isEmpty { continue }
            if !sawHeader {
                let labels = line.split(separator: space)
                if !labels.isEmpty, labels.allSatisfy({ $0.starts(with: "CPU".utf8) }) {
                    cpus = labels.map { String(decoding: $0, as: UTF8.self) }
                    sawHeader = true
                    continue
                }
            }
            if let row = parseRow(line, cpus: cpus) { rows.append(row) }
        }
        return rows
    }

    static func parseRow(_ line: ArraySlice<UInt8>, cpus: [String]) -> InterruptRow? {
        var i = skipSpaces(line, from: line.startIndex)
        guard let colon = line[i...].firstIndex(of: UInt8(ascii: ":")),
            let irq = decimal(line[i..<colon]).flatMap({ UInt32(exactly: $0) })
        else { return nil }
        i = colon + 1
        guard !cpus.isEmpty else { return nil }
        var counts: [(cpu: String, count: UInt64)] = []
        counts.reserveCapacity(cpus.count)
        for cpu in cpus {
            i = skipSpaces(line, from: i)
            let end = line[i...].firstIndex(of: space) ?? line.endIndex
            guard let n = decimal(line[i..<end]) else { return nil }
            counts.append((cpu, n))
            i = end
        }
        let trailing = trimSpaces(line[i...])
        // `"  %s"` precedes the action list: the last run of two spaces separates it from the
        // chip/hwirq/flow columns. Action names may contain single spaces
        // (`arm-smmu global fault`); shared actions are joined by ", ".
        var chip = trailing[trailing.startIndex..<trailing.startIndex]
        var actionText = trailing
        if let r = lastDoubleSpace(in: trailing) {
            chip = trailing[..<r.lowerBound]
            actionText = trailing[r.upperBound...]
        }
        let actions = actionText.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
            .map(trimSpaces).filter { !$0.isEmpty }.map { String(decoding: $0, as: UTF8.self) }
        return InterruptRow(
            irq: irq, counts: counts, chip: String(decoding: trimSpaces(chip), as: UTF8.self), actions: actions)
    }

    /// A run of ASCII digits as a number; nil when empty, not all digits, or over UInt64.
    static func decimal(_ digits: ArraySlice<UInt8>) -> UInt64? {
        guard !digits.isEmpty else { return nil }
        var n: UInt64 = 0
        for b in digits {
            guard b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") else { return nil }
            let (m, o1) = n.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(b - UInt8(ascii: "0")))
            if o1 || o2 { return nil }
            n = a
        }
        return n
    }

    static func skipSpaces(_ s: ArraySlice<UInt8>, from i: Int) -> Int {
        s[i...].firstIndex { $0 != space } ?? s.endIndex
    }

    static func trimSpaces(_ s: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        guard let first = s.firstIndex(where: { $0 != space }), let last = s.lastIndex(where: { $0 != space })
        else { return s[s.endIndex...] }
        return s[first...last]
    }

    /// The last run of two or more spaces.
    static func lastDoubleSpace(in s: ArraySlice<UInt8>) -> Range<Int>? {
        var i = s.endIndex
        while i - 1 > s.startIndex {
            if s[i - 1] == space && s[i - 2] == space {
                var start = i - 2
                while start > s.startIndex && s[start - 1] == space { start -= 1 }
                return start..<i
            }
            i -= 1
        }
        return nil
    }
}
