/// One `/dev/kmsg` record (Documentation/ABI/testing/dev-kmsg):
/// `prio,seq,ts_usec,flag[,more];text\n` followed by ` KEY=value\n` dictionary lines.
public struct KmsgRecord: Sendable, Hashable {
    /// `(facility << 3) | level`. Facility 0 is the kernel; userspace writes get facility 1
    /// and can never forge facility 0.
    public var priority: UInt32
    /// 64-bit sequence number; consecutive records differ by one, a gap is a loss.
    /// nil for text pasted from dmesg/journalctl, which carries none.
    public var seq: UInt64?
    /// Monotonic microseconds since boot (local_clock), not wall time.
    public var timestampUsec: UInt64?
    /// `-`, or `c` for a continuation fragment.
    public var flag: UInt8
    /// The message with `\xNN` escapes undone (an embedded newline is a real `\n` here).
    public var text: String
    /// ` SUBSYSTEM=` dictionary value (`pci`, `iommu`, `platform`, …).
    public var subsystem: String?
    /// ` DEVICE=` dictionary value (`+pci:0000:01:00.0`, `+iommu:ivhd0`, …).
    public var device: String?

    public init(
        priority: UInt32, seq: UInt64?, timestampUsec: UInt64?, flag: UInt8 = UInt8(ascii: "-"), text: String,
        subsystem: String? = nil, device: String? = nil
    ) {
        self.priority = priority
        self.seq = seq
        self.timestampUsec = timestampUsec
        self.flag = flag
        self.text = text
        self.subsystem = subsystem
        self.device = device
    }

    public var facility: UInt32 { priority >> 3 }
    public var level: UInt8 { UInt8(priority & 7) }
    public var isKernel: Bool { facility == 0 }

    /// The device part of a ` DEVICE=+bus:name` dictionary entry for `bus`.
    public func dictionaryDevice(bus: StaticString) -> Substring? {
        guard let device else { return nil }
        // `+bus:name`: compared as bytes (no String made for `bus`: this runs per candidate).
        let u = device.utf8
        let n = bus.utf8CodeUnitCount
        guard u.count > n + 2, u.first == UInt8(ascii: "+") else { return nil }
        var i = u.index(after: u.startIndex)
        let b = bus.utf8Start
        for k in 0..<n {
            guard u[i] == b[k] else { return nil }
            i = u.index(after: i)
        }
        guard u[i] == UInt8(ascii: ":") else { return nil }
        return device[u.index(after: i)...]
    }
}
