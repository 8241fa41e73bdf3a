// Unsafe pointers here: text lines are framed in the input buffer (hot path of text replay).

/// A text log, line by line, into kmsg records for the pipeline: dmesg, journalctl, syslog — the
/// shapes `ReplayFormat` names. A line that continues the record before it (the unstamped,
/// indented second line dmesg and journalctl print for a record with an embedded newline, as the
/// ≤4.6 Intel fault has) is joined to that record, so the classifier sees the record as
/// /dev/kmsg would have given it. Lines are bounded (`KmsgPipeline.maxRecordBytes`): a longer one
/// is skipped and counted, never buffered without end; continuation lines are joined once, at
/// the end of the record (linear in its size).
struct TextLogInput: Sendable {
    let format: ReplayFormat
    /// An unfinished line carried to the next chunk.
    private var carry: [UInt8] = []
    /// Skipping the rest of an over-long line, up to its newline.
    private var skipping = false
    private var oversized: UInt64 = 0
    /// The last record, kept until the next line shows whether it continues.
    private var pending: KmsgRecord?
    private var continuation: [Substring] = []
    /// dmesg: whether lines carry stamps (then an unstamped line continues the previous record).
    private var sawStamp = false

    init(format: ReplayFormat) { self.format = format }

    /// Lines skipped for their length since the last call.
    mutating func takeOversized() -> UInt64 {
        defer { oversized = 0 }
        return oversized
    }

    mutating func feed(_ b: UnsafeBufferPointer<UInt8>, isFinal: Bool, emit: (KmsgRecord) -> Void) {
        var start = 0
        while start < b.count {
            guard let nl = UnsafeBufferPointer(rebasing: b[start...]).firstIndex(of: 0x0a).map({ $0 + start }) else {
                break
            }
            if skipping {
                skipping = false
            } else if carry.isEmpty {
                line(UnsafeBufferPointer(rebasing: b[start..<nl]), emit: emit)
            } else if carry.count + (nl - start) <= KmsgPipeline.maxRecordBytes {
                carry.append(contentsOf: b[start..<nl])
                let whole = carry
                carry = []
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
                let rest = carry
                rest.withUnsafeBufferPointer { line($0, emit: emit) }
            }
            carry = []
            skipping = false
        }
    }

    /// End of input: the last record is complete.
    mutating func finish(emit: (KmsgRecord) -> Void) {
        endPending(emit: emit)
    }

    private mutating func line(_ bytes: UnsafeBufferPointer<UInt8>, emit: (KmsgRecord) -> Void) {
        var end = bytes.count
        if end > 0 && bytes[end - 1] == 0x0d { end -= 1 }  // CRLF
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[..<end]), as: UTF8.self)
        let sub = text[...]
        switch format {
        case .journalJSON:
            endPending(emit: emit)
            if let r = JournalJSONDecoder.record(text) { emit(r) }
        case .journal:
            if let r = TextLogDecoder.journal(sub) {
                endPending(emit: emit)
                pending = r
            } else if sub.first == " " || sub.first == "\t", pending != nil {
                continuation.append(sub)  // the indented further line of a multi-line message
            } else {
                endPending(emit: emit)  // another process, or a `-- Boot … --` separator
            }
        default:
            if sub.allSatisfy({ $0 == " " || $0 == "\t" }) { return }
            guard let d = TextLogDecoder.dmesgLine(sub) else { return }
            if sawStamp && !d.stamped && pending != nil {
                continuation.append(sub)  // the unstamped second line of a multi-line record
                return
            }
            if d.stamped { sawStamp = true }
            endPending(emit: emit)
            pending = d.record
        }
    }

    private mutating func endPending(emit: (KmsgRecord) -> Void) {
        guard var r = pending else { return }
        pending = nil
        if !continuation.isEmpty {
            var text = r.text
            for c in continuation {
                text += "\n"
                text += c.drop { $0 == " " || $0 == "\t" }
            }
            r.text = text
            continuation.removeAll()
        }
        emit(r)
    }
}
