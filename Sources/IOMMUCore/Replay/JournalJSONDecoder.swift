/// `journalctl -o json` lines: MESSAGE (a string, or an array of bytes when the message is not
/// valid text), PRIORITY, SYSLOG_FACILITY, _SOURCE_MONOTONIC_TIMESTAMP (the kmsg timestamp
/// journald keeps for kernel records; __MONOTONIC_TIMESTAMP is when journald stored it), and the
/// kernel's own _KERNEL_SUBSYSTEM / _KERNEL_DEVICE (journald stores the kmsg dictionary there).
/// A multi-line kernel record (the ≤4.6 Intel fault) stays one MESSAGE with an embedded `\n`.
public enum JournalJSONDecoder {
    public static func record(_ line: String) -> KmsgRecord? {
        guard case .object(let o)? = MiniJSON.parse(line) else { return nil }
        // Only kernel records: journald marks them with _TRANSPORT=kernel.
        if case .string(let t)? = o["_TRANSPORT"], t != "kernel" { return nil }
        let message: String
        switch o["MESSAGE"] {
        case .string(let s)?: message = s
        case .array(let bytes)?:
            var raw: [UInt8] = []
            raw.reserveCapacity(bytes.count)
            for v in bytes {
                guard case .number(let n) = v, let b = UInt8(exactly: n) else { return nil }
                raw.append(b)
            }
            message = String(decoding: raw, as: UTF8.self)
        default: return nil
        }
        var prio: UInt32 = 4
        if let p = field(o, "PRIORITY").flatMap({ UInt32($0) }) { prio = p & 7 }
        if let f = field(o, "SYSLOG_FACILITY").flatMap({ UInt32($0) }), f < (1 << 24) { prio |= f << 3 }
        let ts = (field(o, "_SOURCE_MONOTONIC_TIMESTAMP") ?? field(o, "__MONOTONIC_TIMESTAMP")).flatMap { UInt64($0) }
        return KmsgRecord(
            priority: prio, seq: nil, timestampUsec: ts, text: message, subsystem: field(o, "_KERNEL_SUBSYSTEM"),
            device: field(o, "_KERNEL_DEVICE"))
    }

    /// A string field (journalctl prints every value as a string, numbers included).
    static func field(_ o: [String: MiniJSON], _ key: String) -> String? {
        switch o[key] {
        case .string(let s)?: return s
        case .number(let n)?: return n >= 0 && n < 1.8e19 ? String(UInt64(n)) : nil
        default: return nil
        }
    }
}
