/// `journalctl -o json` lines: MESSAGE (a string, or an array of bytes for binary-unsafe
/// messages), PRIORITY, SYSLOG_FACILITY, __MONOTONIC_TIMESTAMP, and the kernel's own
/// _KERNEL_SUBSYSTEM / _KERNEL_DEVICE (journald stores the kmsg dictionary there).
public enum JournalJSONDecoder {
    public static func record(_ line: String) -> KmsgRecord? {
        guard case .object(let o)? = MiniJSON.parse(line) else { return nil }
        // Only kernel records: journald marks them with _TRANSPORT=kernel.
        if case .string(let t)? = o["_TRANSPORT"], t != "kernel" { return nil }
        let message: String
        switch o["MESSAGE"] {
        case .string(let s)?: message = s
        case .array(let bytes)?:
            message = String(decoding: bytes.compactMap { v -> UInt8? in
                if case .number(let n) = v { return UInt8(exactly: n) }
                return nil
            }, as: UTF8.self)
        default: return nil
        }
        var prio: UInt32 = 4
        if case .string(let p)? = o["PRIORITY"], let v = UInt32(p) { prio = v & 7 }
        if case .string(let f)? = o["SYSLOG_FACILITY"], let v = UInt32(f) { prio |= v << 3 }
        var ts: UInt64?
        if case .string(let m)? = o["__MONOTONIC_TIMESTAMP"] { ts = UInt64(m) }
        var subsystem: String?
        var device: String?
        if case .string(let s)? = o["_KERNEL_SUBSYSTEM"] { subsystem = s }
        if case .string(let d)? = o["_KERNEL_DEVICE"] { device = d }
        return KmsgRecord(priority: prio, seq: nil, timestampUsec: ts, text: message, subsystem: subsystem, device: device)
    }
}
