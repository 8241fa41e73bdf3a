// Unsafe pointers here: the lines of a journal entry are read in place.

/// journalctl's entry formats that take several lines per entry (systemd 252, measured):
/// * `-o json-pretty`: `{`, then `\t"KEY" : value,` lines, then `}`;
/// * `-o verbose`: `Mon 2026-12-07 12:23:01.313564 UTC [s=…;i=…;b=…;m=…;t=…;x=…]`, then
///   `    KEY=value` lines; a value's further lines are indented to the value's column;
/// * `-o export` (the Journal Export Format): `KEY=value` lines from `__CURSOR=` on, a blank line
///   after each entry; a value that is not printable text (a newline, a control character) is
///   `KEY\n`, its length as 64-bit little-endian, the bytes, `\n` — `TextLogInput` reads those
///   bytes and hands them to `binaryField`.
/// Only the fields a record needs are kept (`JournalJSONDecoder`), each bounded.
struct JournalEntryReader: Sendable {
    enum Mode: Sendable { case pretty, verbose, export }

    enum Step {
        /// The line belongs to the entry; more may follow.
        case more
        /// The entry ended with this line (its record, if it is a kernel record).
        case done(KmsgRecord?)
        /// The entry ended before this line, which is not the entry's.
        case ended(KmsgRecord?)
        /// Export: the line names a field whose value follows as length-prefixed bytes.
        case binary(String?)
    }

    let mode: Mode
    private var json: [UInt8] = []
    private var fields: [String: [UInt8]] = [:]
    private var lastKey: String?
    /// Something was over the size limit (counted once by the caller).
    private(set) var oversized = false

    static let kept = [
        "MESSAGE", "PRIORITY", "SYSLOG_FACILITY", "_TRANSPORT", "_SOURCE_MONOTONIC_TIMESTAMP",
        "__MONOTONIC_TIMESTAMP", "_KERNEL_SUBSYSTEM", "_KERNEL_DEVICE",
    ]

    private init(mode: Mode) { self.mode = mode }

    /// The reader for an entry that starts with this line, or nil.
    static func start(_ b: UnsafeBufferPointer<UInt8>) -> JournalEntryReader? {
        guard let first = b.first else { return nil }
        if first == UInt8(ascii: "{") {
            var end = b.count
            while end > 1, b[end - 1] == 0x20 { end -= 1 }
            guard end == 1 else { return nil }
            var r = JournalEntryReader(mode: .pretty)
            r.json = [UInt8(ascii: "{")]
            return r
        }
        if first == UInt8(ascii: "_"), Self.startsWith(b, "__CURSOR=") || Self.startsWith(b, "__REALTIME_TIMESTAMP=") {
            var r = JournalEntryReader(mode: .export)
            _ = r.line(b)
            return r
        }
        var i = 0
        if LineStamps.full(b, &i), Self.startsWith(UnsafeBufferPointer(rebasing: b[i...]), "[s=") {
            var r = JournalEntryReader(mode: .verbose)
            // `m=` is __MONOTONIC_TIMESTAMP in hex: the stamp when _SOURCE_MONOTONIC_TIMESTAMP is absent.
            var s = ByteScanner(b, position: i)
            if s.skip(past: ";m="), let m = s.hex(maxDigits: 16) {
                r.fields["__MONOTONIC_TIMESTAMP"] = Array(String(m).utf8)
            }
            return r
        }
        return nil
    }

    mutating func line(_ b: UnsafeBufferPointer<UInt8>) -> Step {
        switch mode {
        case .pretty:
            if json.count + b.count + 1 <= KmsgPipeline.maxRecordBytes {
                json.append(0x0a)
                json.append(contentsOf: b)
            } else {
                oversized = true
            }
            var end = b.count
            while end > 0, b[end - 1] == 0x20 { end -= 1 }
            guard end == 1, b[0] == UInt8(ascii: "}") else { return .more }
            return .done(oversized ? nil : prettyRecord())
        case .verbose:
            var indent = 0
            while indent < b.count, b[indent] == 0x20 { indent += 1 }
            guard indent >= 4, indent < b.count else { return .ended(record()) }
            if indent == 4, let eq = b.firstIndex(of: UInt8(ascii: "=")), Self.isFieldName(b, 4..<eq) {
                store(String(decoding: UnsafeBufferPointer(rebasing: b[4..<eq]), as: UTF8.self), b[(eq + 1)...])
            } else if let key = lastKey, let count = fields[key]?.count {
                // A further line of the value: indented to its column (4 + `KEY=`).
                let more = b[min(4 + key.utf8.count + 1, indent)...]
                if count + 1 + more.count > KmsgPipeline.maxRecordBytes {
                    oversized = true
                    fields[key] = nil
                } else {
                    fields[key]!.append(0x0a)
                    fields[key]!.append(contentsOf: more)
                }
            }
            return .more
        case .export:
            if b.isEmpty { return .done(record()) }
            if let eq = b.firstIndex(of: UInt8(ascii: "=")), Self.isFieldName(b, 0..<eq) {
                store(String(decoding: UnsafeBufferPointer(rebasing: b[..<eq]), as: UTF8.self), b[(eq + 1)...])
                return .more
            }
            if Self.isFieldName(b, 0..<b.count) {
                let key = String(decoding: b, as: UTF8.self)
                return .binary(Self.kept.contains(key) ? key : nil)
            }
            return .ended(record())
        }
    }

    /// An export field's length-prefixed value.
    mutating func binaryField(_ key: String, _ value: [UInt8]) {
        store(key, value[...])
    }

    /// The entry as it stands (end of input).
    func finish() -> KmsgRecord? {
        mode == .pretty ? nil : record()
    }

    private mutating func store<C: Collection<UInt8>>(_ key: String, _ value: C) {
        lastKey = key
        guard Self.kept.contains(key) else { return }
        guard value.count <= KmsgPipeline.maxRecordBytes else {
            oversized = true
            fields[key] = nil
            return
        }
        fields[key] = Array(value)
    }

    private func record() -> KmsgRecord? {
        JournalJSONDecoder.record { key in fields[key].map { String(decoding: $0, as: UTF8.self) } }
    }

    private func prettyRecord() -> KmsgRecord? {
        guard case .object(let o)? = MiniJSON.parse(String(decoding: json, as: UTF8.self)) else { return nil }
        return JournalJSONDecoder.record(o)
    }

    /// A journal field name: upper-case letters, digits and `_`, not starting with a digit.
    static func isFieldName(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Bool {
        guard !r.isEmpty, r.count <= 64, !LineStamps.isDigit(b[r.lowerBound]) else { return false }
        for i in r {
            let c = b[i]
            guard (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z")) || LineStamps.isDigit(c) || c == UInt8(ascii: "_")
            else { return false }
        }
        return true
    }

    static func startsWith(_ b: UnsafeBufferPointer<UInt8>, _ s: StaticString) -> Bool {
        let n = s.utf8CodeUnitCount
        guard b.count >= n else { return false }
        return ByteSearch.equals(UnsafeBufferPointer(rebasing: b[..<n]), s)
    }
}
