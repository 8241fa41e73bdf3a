// Unsafe pointers here: text lines are framed in the input buffer (hot path of text replay).

/// A text log, line by line, into records for the pipeline, whatever shape each line has: the
/// one-line shapes `LineDecoder` takes apart, journalctl's JSON lines (`json`, `json-seq`,
/// `json-sse`) and its multi-line entries (`json-pretty`, `verbose`, `export`:
/// `JournalEntryReader`). The shape is decided per line, so a file may be a concatenation;
/// `format` (other than `auto`) restricts the shapes tried.
///
/// A line with no prefix of its own that is indented and follows a prefixed record continues it
/// (dmesg and journalctl print the further lines of a record with an embedded newline — the ≤4.6
/// Intel fault — indented to the prefix's width); an unindented unprefixed line is a record of
/// its own (`dmesg -t`, `journalctl -o cat`, a quote): the family parsers join the lines of a
/// multi-record event by the device prefix the kernel printed, whatever came before it. Another
/// program's line and its indented further lines are not kernel records. ANSI escape sequences
/// (a captured coloured terminal) are removed, CRs at the end of a line dropped.
///
/// Bounds: a line, a record with its further lines, and an entry's field are at most
/// `KmsgPipeline.maxRecordBytes`; what is longer is skipped and counted, never buffered without
/// end. An export field's length is not trusted: its bytes are skipped, not kept.
struct TextLogInput: Sendable {
    typealias Emit = (TextLogRecord) -> Void

    private var decoder: LineDecoder
    /// journalctl's JSON and entry formats are read (auto, journal-json).
    private let entries: Bool
    /// One-line shapes are read (all but journal-json).
    private let lineShapes: Bool

    /// An unfinished line carried to the next chunk.
    private var carry: [UInt8] = []
    /// Skipping the rest of an over-long line, up to its newline.
    private var skipping = false
    private var oversized: UInt64 = 0
    /// A line with its escape sequences removed.
    private var scratch: [UInt8] = []

    struct Pending: Sendable {
        var priority: UInt32
        var seq: UInt64?
        var timestamp: UInt64?
        var escapes: TextEscapes
        var prefixWidth: Int
        var prefixed: Bool
        var kmsg: Bool
        var subsystem: String?
        var device: String?
        var truncated = false
    }

    /// The last record, kept until the next line shows whether it continues; its message bytes.
    private var pending: Pending?
    private var pendingText: [UInt8] = []
    /// The last line was another program's: its indented further lines are too.
    private var swallowing = false
    private var entry: JournalEntryReader?

    /// An export field's value, read by length.
    struct BinaryField: Sendable {
        var key: String?
        var length: [UInt8] = []
        var remaining: UInt64?
        var data: [UInt8] = []
    }
    private var binary: BinaryField?

    init(format: ReplayFormat) {
        switch format {
        case .dmesg:
            decoder = LineDecoder(shapes: .dmesg)
            (entries, lineShapes) = (false, true)
        case .journal:
            decoder = LineDecoder(shapes: .syslog)
            (entries, lineShapes) = (false, true)
        case .journalJSON:
            decoder = LineDecoder(shapes: [])
            (entries, lineShapes) = (true, false)
        case .auto, .kmsg:
            decoder = LineDecoder(shapes: .all)
            (entries, lineShapes) = (true, true)
        }
    }

    /// Lines skipped for their length since the last call.
    mutating func takeOversized() -> UInt64 {
        defer { oversized = 0 }
        return oversized
    }

    mutating func feed(_ b: UnsafeBufferPointer<UInt8>, isFinal: Bool, emit: Emit) {
        var start = 0
        while start < b.count {
            if binary != nil {
                start = takeBinary(b, from: start)
                continue
            }
            let nl = ByteSearch.index(of: 0x0a, in: b, from: start)
            guard nl < b.count else { break }
            if skipping {
                skipping = false
            } else if carry.isEmpty {
                line(UnsafeBufferPointer(rebasing: b[start..<nl]), emit: emit)
            } else if carry.count + (nl - start) <= KmsgPipeline.maxRecordBytes {
                carry.append(contentsOf: b[start..<nl])
                var whole: [UInt8] = []
                swap(&whole, &carry)
                whole.withUnsafeBufferPointer { line($0, emit: emit) }
            } else {
                carry = []
                oversized += 1
            }
            start = nl + 1
        }
        if start < b.count && !skipping {
            if carry.count + (b.count - start) > KmsgPipeline.maxRecordBytes {
                carry = []
                skipping = true
                oversized += 1
            } else {
                carry.append(contentsOf: b[start...])
            }
        }
        if isFinal {
            if !carry.isEmpty && !skipping {
                var rest: [UInt8] = []
                swap(&rest, &carry)
                rest.withUnsafeBufferPointer { line($0, emit: emit) }
            }
            carry = []
            skipping = false
            binary = nil
        }
    }

    /// End of input: the last record and entry are complete.
    mutating func finish(emit: Emit) {
        endPending(emit: emit)
        if let e = entry {
            entry = nil
            endEntry(e.finish(), oversized: e.oversized, emit: emit)
        }
    }

    private mutating func line(_ raw: UnsafeBufferPointer<UInt8>, emit: Emit) {
        var end = raw.count
        while end > 0 && raw[end - 1] == 0x0d { end -= 1 }  // CRLF, a serial console's CR CR LF
        let b = UnsafeBufferPointer(rebasing: raw[..<end])
        guard ByteSearch.index(of: 0x1b, in: b, from: 0) < b.count else {
            take(b, emit: emit)
            return
        }
        var clean: [UInt8] = []
        swap(&clean, &scratch)
        clean.removeAll(keepingCapacity: true)
        TextLog.removeEscapeSequences(b, into: &clean)
        clean.withUnsafeBufferPointer { take($0, emit: emit) }
        swap(&clean, &scratch)
    }

    private mutating func take(_ b: UnsafeBufferPointer<UInt8>, emit: Emit) {
        if entry != nil {
            switch entry!.line(b) {
            case .more:
                return
            case .binary(let key):
                binary = BinaryField(key: key)
                return
            case .done(let r):
                let e = entry!
                entry = nil
                endEntry(r, oversized: e.oversized, emit: emit)
                return
            case .ended(let r):
                let e = entry!
                entry = nil
                endEntry(r, oversized: e.oversized, emit: emit)
            }
        }
        if entries, let first = b.first {
            if let o = TextLog.jsonObject(b, first: first) {
                endPending(emit: emit)
                swallowing = false
                if let r = JournalJSONDecoder.record(o) { Self.emit(r, emit) }
                return
            }
            if first == UInt8(ascii: "{") || first == UInt8(ascii: "_") || (first >= 0x41 && first <= 0x5a),
                let e = JournalEntryReader.start(b)
            {
                endPending(emit: emit)
                swallowing = false
                entry = e
                return
            }
        }
        guard lineShapes else { return }
        let d = decoder.decode(b)
        switch d.kind {
        case .blank:
            return
        case .separator:
            endPending(emit: emit)
            swallowing = false
        case .otherProgram:
            endPending(emit: emit)
            swallowing = true
        case .kmsg:
            endPending(emit: emit)
            swallowing = false
            begin(d, b)
        case .record, .unshaped:
            if !d.prefixed, let first = b.first, first == 0x20 || first == 0x09 {
                if swallowing { return }
                if let p = pending {
                    if p.kmsg && first == 0x20 {
                        dictionary(b)
                        return
                    }
                    if p.prefixed && !p.kmsg {
                        continueRecord(b, p)
                        return
                    }
                }
            }
            endPending(emit: emit)
            swallowing = false
            if d.kind == .record { begin(d, b) }
        }
    }

    private mutating func begin(_ d: DecodedLine, _ b: UnsafeBufferPointer<UInt8>) {
        pendingText.removeAll(keepingCapacity: true)
        pendingText.append(contentsOf: b[d.text...])
        pending = Pending(
            priority: d.priority, seq: d.seq, timestamp: d.timestamp, escapes: d.escapes, prefixWidth: d.text,
            prefixed: d.prefixed, kmsg: d.kind == .kmsg)
    }

    /// A further line of the pending record: its indentation (the prefix's width) removed.
    private mutating func continueRecord(_ b: UnsafeBufferPointer<UInt8>, _ p: Pending) {
        var s = 0
        while s < b.count, s < p.prefixWidth, b[s] == 0x20 { s += 1 }
        if s == 0 { while s < b.count, b[s] == 0x20 || b[s] == 0x09 { s += 1 } }
        guard pendingText.count + 1 + (b.count - s) <= KmsgPipeline.maxRecordBytes else {
            if !p.truncated { oversized += 1 }
            pending?.truncated = true
            return
        }
        pendingText.append(0x0a)
        pendingText.append(contentsOf: b[s...])
    }

    /// ` SUBSYSTEM=…` / ` DEVICE=…` after a kmsg record line.
    private mutating func dictionary(_ b: UnsafeBufferPointer<UInt8>) {
        let body = UnsafeBufferPointer(rebasing: b[1...])
        guard let eq = body.firstIndex(of: UInt8(ascii: "=")) else { return }
        let key = UnsafeBufferPointer(rebasing: body[..<eq])
        let value = UnsafeBufferPointer(rebasing: body[(eq + 1)...])
        if ByteSearch.equals(key, "SUBSYSTEM") {
            pending?.subsystem = KmsgRecordParser.unescape(value)
        } else if ByteSearch.equals(key, "DEVICE") {
            pending?.device = KmsgRecordParser.unescape(value)
        }
    }

    private mutating func endPending(emit: Emit) {
        guard let p = pending else { return }
        pending = nil
        pendingText.withUnsafeBufferPointer {
            emit(
                TextLogRecord(
                    priority: p.priority, seq: p.seq, timestampUsec: p.timestamp, text: $0, escapes: p.escapes,
                    subsystem: p.subsystem, device: p.device))
        }
    }

    private mutating func endEntry(_ r: KmsgRecord?, oversized big: Bool, emit: Emit) {
        if big { oversized += 1 }
        if let r { Self.emit(r, emit) }
    }

    static func emit(_ r: KmsgRecord, _ emit: Emit) {
        r.text.withBytes {
            emit(
                TextLogRecord(
                    priority: r.priority, seq: r.seq, timestampUsec: r.timestampUsec, text: $0, escapes: .none,
                    subsystem: r.subsystem, device: r.device))
        }
    }

    /// Reads an export field's value: 8 bytes of length (little-endian), the bytes, a newline.
    /// A value longer than a record may be is skipped, not kept.
    private mutating func takeBinary(_ b: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        var f = binary!
        binary = nil
        var i = start
        while f.remaining == nil, i < b.count {
            f.length.append(b[i])
            i += 1
            if f.length.count == 8 {
                var n: UInt64 = 0
                for k in (0..<8).reversed() { n = n << 8 | UInt64(f.length[k]) }
                f.remaining = n
                if n > UInt64(KmsgPipeline.maxRecordBytes) {
                    oversized += 1
                    f.key = nil
                }
            }
        }
        guard var left = f.remaining else {
            binary = f
            return i
        }
        let k = Int(min(left, UInt64(b.count - i)))
        if f.key != nil { f.data.append(contentsOf: b[i..<(i + k)]) }
        i += k
        left -= UInt64(k)
        f.remaining = left
        guard left == 0, i < b.count else {
            binary = f
            return i
        }
        if b[i] == 0x0a { i += 1 }
        if let key = f.key { entry?.binaryField(key, f.data) }
        return i
    }
}
