/// The ledger's devices: one array of summaries, in the order the devices first faulted, and a
/// hash table from device name to a position in it.
///
/// Not a dictionary of summaries: a hash table spreads its entries over buckets it keeps a
/// quarter or more empty, and a summary is large, so a large replay's tens of thousands of
/// devices touched twice the memory and a cache line in a new page for nearly each of them.
/// Here the table holds only names and positions, and the summaries lie side by side
/// (bench/: replay throughput).
public struct DeviceTable: Sendable, Equatable {
    private var positions: [String: Int] = [:]
    /// Every summary, in the order the devices first faulted.
    public internal(set) var values: [DeviceSummary] = []

    public init() {}

    public var count: Int { values.count }
    public var isEmpty: Bool { values.isEmpty }

    public subscript(name: String) -> DeviceSummary? {
        positions[name].map { values[$0] }
    }

    /// The position of `name`'s summary in `values`, after adding `make()` for a new device.
    mutating func position(of name: String, orAdd make: () -> DeviceSummary) -> Int {
        if let i = positions[name] { return i }
        values.append(make())
        positions[name] = values.count - 1
        return values.count - 1
    }

    func position(of name: String) -> Int? { positions[name] }

    /// Each device's series, read where they lie: a loop over `values` copies every summary
    /// first, retaining its strings and its last fault's box.
    func forEachSeries(_ body: (_ device: String, Series) -> Void) {
        values.withUnsafeBufferPointer { all in
            for i in all.indices {
                let d = all.baseAddress! + i
                guard let first = d.pointee.firstSeries else { continue }
                body(d.pointee.device, first)
                for s in d.pointee.moreSeries { body(d.pointee.device, s) }
            }
        }
    }

    /// Room for `n` devices at once. The summaries get room for twice as many: room never
    /// written costs only address space, while outgrowing it moves every summary to new memory
    /// (the estimate is rough; the table of positions, written all over, gets what is asked).
    mutating func reserveCapacity(_ n: Int) {
        positions.reserveCapacity(n)
        values.reserveCapacity(2 * n)
    }

    /// The same devices with the same summaries, in whatever order they came.
    public static func == (l: Self, r: Self) -> Bool {
        l.count == r.count && l.values.allSatisfy { r[$0.device] == $0 }
    }
}
