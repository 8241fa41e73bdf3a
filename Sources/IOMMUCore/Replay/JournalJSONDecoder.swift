/// journalctl's entries as records: `-o json` lines (also `json-seq`'s RS-prefixed and
/// `json-sse`'s `data: ` lines, and `json-pretty` once its lines are joined), and the fields of
/// `-o verbose` and `-o export` (`JournalEntryReader`). The fields read: MESSAGE (a string, or an
/// array of bytes when the message is not valid text), PRIORITY, SYSLOG_FACILITY,
/// _SOURCE_MONOTONIC_TIMESTAMP (the kmsg timestamp journald keeps for kernel records;
/// __MONOTONIC_TIMESTAMP is when journald stored it), and the kernel's own _KERNEL_SUBSYSTEM /
/// _KERNEL_DEVICE (journald stores the kmsg dictionary there). A multi-line kernel record (the
/// ≤4.6 Intel fault) stays one MESSAGE with an embedded `\n`. Only kernel records: an entry whose
/// _TRANSPORT is not `kernel` is another program's.
public enum JournalJSONDecoder {
    public static func record(_ line: String) -> KmsgRecord? {
        guard case .object(let o)? = MiniJSON.parse(line) else { return nil }
        return record(o)
    }

    static func record(_ o: [String: MiniJSON]) -> KmsgRecord? {
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
        return record { key in key == "MESSAGE" ? message : field(o, key) }
    }

    /// The record the fields describe; `field` answers for each key it is asked.
    static func record(_ field: (String) -> String?) -> KmsgRecord? {
        if let t = field("_TRANSPORT"), t != "kernel" { return nil }
        guard let message = field("MESSAGE") else { return nil }
        var prio: UInt32 = 4
        if let p = field("PRIORITY").flatMap({ UInt32($0) }) { prio = p & 7 }
        if let f = field("SYSLOG_FACILITY").flatMap({ UInt32($0) }), f < (1 << 24) { prio |= f << 3 }
        let ts = (field("_SOURCE_MONOTONIC_TIMESTAMP") ?? field("__MONOTONIC_TIMESTAMP")).flatMap { UInt64($0) }
        return KmsgRecord(
            priority: prio, seq: nil, timestampUsec: ts, text: message, subsystem: field("_KERNEL_SUBSYSTEM"),
            device: field("_KERNEL_DEVICE"))
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
