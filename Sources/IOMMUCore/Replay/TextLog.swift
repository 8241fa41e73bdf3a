// Unsafe pointers here: lines are looked at in place.

/// What replay reads from a text log, record by record, without classifying it.
public enum TextLog {
    /// Every kernel record `text` holds, decoded as `iommud replay --format format` reads it
    /// (escapes undone, further lines joined).
    public static func records(_ text: String, format: ReplayFormat = .auto) -> [KmsgRecord] {
        var input = TextLogInput(format: format)
        var out: [KmsgRecord] = []
        text.withBytes { input.feed($0, isFinal: true) { out.append($0.record()) } }
        input.finish { out.append($0.record()) }
        return out
    }

    /// A one-line JSON entry: `{…}` (json), RS `{…}` (json-seq), `data: {…}` (json-sse).
    static func jsonObject(_ b: UnsafeBufferPointer<UInt8>, first: UInt8) -> [String: MiniJSON]? {
        var from = 0
        if first == 0x1e {
            from = 1
        } else if first == UInt8(ascii: "d"), JournalEntryReader.startsWith(b, "data: {") {
            from = 6
        } else if first != UInt8(ascii: "{") || b.count < 2 {
            return nil
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: b[from...]), as: UTF8.self)
        guard case .object(let o)? = MiniJSON.parse(text) else { return nil }
        return o
    }

    /// Removes ANSI escape sequences: CSI (`ESC [ … final`), OSC (`ESC ] … BEL` or `ESC \`), and
    /// two-byte escapes. The kernel escapes ESC in what it logs (`\x1b`), so a raw ESC in a text
    /// log is never part of a message.
    static func removeEscapeSequences(_ b: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        var i = 0
        while i < b.count {
            guard b[i] == 0x1b else {
                out.append(b[i])
                i += 1
                continue
            }
            i += 1
            guard i < b.count else { break }
            let kind = b[i]
            i += 1
            if kind == UInt8(ascii: "[") {
                while i < b.count, !(b[i] >= 0x40 && b[i] <= 0x7e) { i += 1 }
                i += 1
            } else if kind == UInt8(ascii: "]") {
                while i < b.count, b[i] != 0x07, b[i] != 0x1b { i += 1 }
                if i < b.count, b[i] == 0x1b { i += 1 }
                i += 1
            }
        }
    }
}
