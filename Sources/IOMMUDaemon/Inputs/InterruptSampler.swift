import IOMMUCore

/// Reads /proc/interrupts and picks out the IOMMU fault vectors per unit. It is read when
/// records arrive, on scrape and on status — never on a timer: the file is always readable, so
/// it cannot be tailed, and waking up for it would cost an idle node.
public struct InterruptSampler: Sendable {
    public var path: String

    /// /proc/interrupts on a machine with 4 096 CPUs: ~45 KB per row, a few hundred rows.
    public static let sizeLimit = 64 << 20

    public init(path: String) { self.path = path }

    public func sample(topology: Topology) -> Result<[InterruptObservation], FileError> {
        let text: String
        do {
            text = try readSmallFile(path, limit: Self.sizeLimit)
        } catch {
            return .failure(error)
        }
        return .success(Self.observations(ProcInterruptsParser.parse(text), topology: topology))
    }

    public static func observations(_ rows: [InterruptRow], topology: Topology) -> [InterruptObservation] {
        var out: [InterruptObservation] = []
        let catalog = FamilyCatalog.standard
        for row in rows {
            for action in row.actions {
                guard let v = catalog.vector(forAction: action, topology: topology) else { continue }
                // A unit's device name on a line shared with other devices (Rockchip's IOMMU on its
                // VOP's line): the count is the line's, not the IOMMU's — left out.
                if catalog.vector(forAction: action) == nil,
                    row.actions.contains(where: { catalog.vector(forAction: $0, topology: topology) == nil })
                {
                    continue
                }
                let unit = topology.unit(forInterrupt: row.irq, vector: v)
                var counts: [String: UInt64] = [:]
                for c in row.counts { counts[c.cpu] = c.count }
                out.append(InterruptObservation(irq: row.irq, unit: unit, vector: v.vector, counts: counts))
            }
        }
        return out
    }
}
