/// Arithmetic on counts that come from outside (kernel lines, /proc files, checkpoints): it
/// saturates at the type's maximum instead of trapping. A count of UInt64.max is absurd, but a
/// daemon that dies on it loses everything else it counted.
extension UInt64 {
    @inline(__always)
    public func saturatingAdd(_ other: UInt64) -> UInt64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }

    @inline(__always)
    public func saturatingMultiply(_ other: UInt64) -> UInt64 {
        let (product, overflow) = multipliedReportingOverflow(by: other)
        return overflow ? .max : product
    }

    @inline(__always)
    public func saturatingSubtract(_ other: UInt64) -> UInt64 {
        self >= other ? self - other : 0
    }
}

extension Sequence where Element == UInt64 {
    /// The sum, saturating at UInt64.max.
    public func saturatingSum() -> UInt64 { reduce(0) { $0.saturatingAdd($1) } }
}

extension Dictionary where Value == UInt64 {
    /// Adds `n` to the count of `key`, saturating.
    public mutating func add(_ n: UInt64, to key: Key) {
        self[key] = (self[key] ?? 0).saturatingAdd(n)
    }
}
