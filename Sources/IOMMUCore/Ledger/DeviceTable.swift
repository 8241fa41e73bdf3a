/// The ledger's devices: one array of summaries, in the order the devices first faulted, and a
/// table from device name to a position in it (so the order is stable and a lookup is one hash).
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

    /// The same devices with the same summaries, in whatever order they came.
    public static func == (l: Self, r: Self) -> Bool {
        l.count == r.count && l.values.allSatisfy { r[$0.device] == $0 }
    }
}
