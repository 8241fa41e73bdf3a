// Unsafe pointers here: a unit is found by the bytes of the record that names it (parser hot path).

/// What a family whose events span several records keeps per unit while a group is under way
/// (ArmSMMUv2, ArmSMMUv3).
protocol PendingUnitState: Sendable {
    init()
    /// Nothing is under way: the unit leaves the table.
    var isEmpty: Bool { get }
    /// Where the unit's oldest unfinished group began.
    var since: UInt64? { get }
}

extension Dictionary where Key == String, Value: PendingUnitState {
    /// Where the oldest unfinished group of any unit began.
    var pendingSince: UInt64? { values.compactMap(\.since).min() }

    /// Runs `body` on the state of the unit `name` names: its pending state, changed where it lies
    /// in the table (a held group then grows in place, uniquely referenced, instead of being copied
    /// per record), or a fresh one. A unit leaves the table once nothing is pending and enters it
    /// only when something is. With `limit` units pending, the one whose group began first makes
    /// room (any other choice could leave the oldest pending for ever): it is returned, removed,
    /// for the caller to end.
    mutating func withPendingUnit<R>(
        named name: UnsafeBufferPointer<UInt8>, limit: Int, makeName: () -> String,
        _ body: (String, inout Value) -> R
    ) -> (result: R, evicted: (unit: String, state: Value)?) {
        if let i = index(ofKeyBytes: name) {
            let result = body(keys[i], &values[i])
            if values[i].isEmpty { remove(at: i) }
            return (result, nil)
        }
        let unit = makeName()
        var state = Value()
        let result = body(unit, &state)
        guard !state.isEmpty else { return (result, nil) }
        var evicted: (unit: String, state: Value)?
        if count >= limit, let victim = self.min(by: { ($0.value.since ?? .max) < ($1.value.since ?? .max) })?.key {
            evicted = (victim, removeValue(forKey: victim)!)
        }
        self[unit] = state
        return (result, evicted)
    }

    /// The index of the key equal to these bytes, found without making a String of them (the
    /// tables of units with a group under way hold a handful: a look at each beats hashing).
    func index(ofKeyBytes name: UnsafeBufferPointer<UInt8>) -> Index? {
        var i = startIndex
        while i != endIndex {
            if ByteSearch.equals(keys[i], name) { return i }
            i = index(after: i)
        }
        return nil
    }
}
