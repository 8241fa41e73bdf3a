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
public enum ProcInterruptsParser {
    public static func parse(_ text: String) -> [InterruptRow] {
        var rows: [InterruptRow] = []
        var cpus: [String] = []
        var sawHeader = false
        for lineSub in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = lineSub
            if !sawHeader {
                let labels = line.split(separator: " ", omittingEmptySubsequences: true)
                if !labels.isEmpty, labels.allSatisfy({ $0.hasPrefix("CPU") }) {
                    cpus = labels.map(String.init)
                    sawHeader = true
                    continue
                }
            }
            guard let row = parseRow(line, cpus: cpus) else { continue }
            rows.append(row)
        }
        return rows
    }

    static func parseRow(_ line: Substring, cpus: [String]) -> InterruptRow? {
        var rest = line.drop { $0 == " " }
        guard let colon = rest.firstIndex(of: ":") else { return nil }
        guard let irq = UInt32(rest[rest.startIndex..<colon]) else { return nil }
        rest = rest[rest.index(after: colon)...]
        var counts: [(cpu: String, count: UInt64)] = []
        counts.reserveCapacity(cpus.count)
        for cpu in cpus {
            rest = rest.drop { $0 == " " }
            let end = rest.firstIndex(of: " ") ?? rest.endIndex
            guard let n = UInt64(rest[rest.startIndex..<end]) else { break }
            counts.append((cpu, n))
            rest = rest[end...]
        }
        guard counts.count == cpus.count, !cpus.isEmpty else { return nil }
        let trailing = rest.drop { $0 == " " }
        // `"  %s"` precedes the action list: the last run of two spaces separates it from the
        // chip/hwirq/flow columns. Action names may contain single spaces
        // (`arm-smmu global fault`); shared actions are joined by ", ".
        var actionText = Substring("")
        var chip = trailing
        if let r = lastDoubleSpace(in: trailing) {
            chip = trailing[trailing.startIndex..<r.lowerBound]
            actionText = trailing[r.upperBound...].drop { $0 == " " }
        } else {
            actionText = trailing
            chip = ""
        }
        let actions = actionText.isEmpty ? [] : actionText.split(separator: ",").map { $0.trimmingSpaces() }
        return InterruptRow(
            irq: irq, counts: counts, chip: String(chip.trimmingSpaces()), actions: actions.filter { !$0.isEmpty })
    }

    static func lastDoubleSpace(in s: Substring) -> Range<Substring.Index>? {
        var idx = s.endIndex
        while idx > s.startIndex {
            let prev = s.index(before: idx)
            if s[prev] == " ", prev > s.startIndex, s[s.index(before: prev)] == " " {
                // Walk back over the whole run of spaces.
                var start = s.index(before: prev)
                while start > s.startIndex, s[s.index(before: start)] == " " { start = s.index(before: start) }
                return start..<idx
            }
            idx = prev
        }
        return nil
    }
}

extension Substring {
    func trimmingSpaces() -> String {
        String(self.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
