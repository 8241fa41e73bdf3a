/// What the ledger remembers about one device that faulted.
public struct DeviceSummary: Sendable, Equatable {
    public var device: String
    public var unit: String
    public var vendor: Vendor
    public var total: UInt64 = 0
    public var recoverable: UInt64 = 0
    public var nonRecoverable: UInt64 = 0
    public var byKind: [FaultKind: UInt64] = [:]
    public var byReason: [String: UInt64] = [:]
    public var lastFault: Fault?
    /// Wall-clock µs of the last fault (kmsg timestamp mapped to realtime), when known.
    public var lastFaultRealtimeUsec: Int64?

    public init(device: String, unit: String, vendor: Vendor) {
        self.device = device
        self.unit = unit
        self.vendor = vendor
    }

    mutating func count(_ f: Fault, key: FaultCounterKey, realtimeOffsetUsec: Int64?) {
        unit = key.unit
        total += 1
        if f.recoverable { recoverable += 1 } else { nonRecoverable += 1 }
        byKind[f.kind, default: 0] += 1
        byReason[key.reason, default: 0] += 1
        lastFault = f
        if let ts = f.timestampUsec, let off = realtimeOffsetUsec {
            lastFaultRealtimeUsec = Int64(truncatingIfNeeded: ts) + off
        }
    }

    /// The reason seen most often (ties: the lower code), with its count.
    public var topReason: (reason: String, count: UInt64)? {
        byReason.filter { !$0.key.isEmpty }.max { a, b in a.value != b.value ? a.value < b.value : a.key > b.key }
            .map { ($0.key, $0.value) }
    }
}

/// A contiguous run of kmsg records the daemon never saw.
public struct LossRange: Sendable, Equatable {
    /// The last seq seen before the loss (nil: the start of the boot).
    public var afterSeq: UInt64?
    /// The first seq seen after it.
    public var beforeSeq: UInt64
    public var count: UInt64

    public init(afterSeq: UInt64?, beforeSeq: UInt64, count: UInt64) {
        self.afterSeq = afterSeq
        self.beforeSeq = beforeSeq
        self.count = count
    }
}

/// An IOMMU-looking line no format matched, kept for `status`.
public struct UnparsedLine: Sendable, Equatable {
    public var vendor: Vendor?
    public var seq: UInt64?
    public var text: String

    public init(vendor: Vendor?, seq: UInt64?, text: String) {
        self.vendor = vendor
        self.seq = seq
        self.text = text
    }
}
