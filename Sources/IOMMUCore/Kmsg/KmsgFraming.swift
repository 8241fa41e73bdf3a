// Unsafe pointers here: framing walks every byte of the input (hot path).

/// Frames a byte stream into kmsg records: a header line plus the following lines that begin
/// with one space. /dev/kmsg hands out one record per read(); a FIFO or a saved file is a plain
/// byte stream, and this is what lets the same reader consume both (ARCHITECTURE.md).
public enum KmsgFraming {
    /// Calls `body` with each complete record in `buffer` and where its first line ends (the
    /// index of its newline in the record, or the record's length when it has none: the header
    /// parser then need not search for it again, `KmsgRecordParser.layout(_:firstLineEnd:)`),
    /// and returns how many bytes were consumed. A record is complete once the line after it is
    /// known not to be a dictionary line — or, when `isFinal`, at the end of the buffer.
    public static func forEachRecord(
        in buffer: UnsafeBufferPointer<UInt8>, isFinal: Bool, _ body: (UnsafeBufferPointer<UInt8>, Int) -> Void
    ) -> Int {
        var recordStart = 0
        var firstLineEnd = -1  // in the buffer; -1 until the current record's first line is found
        var i = 0
        let n = buffer.count
        while i < n {
            // Find the end of the current line.
            let eol = ByteSearch.index(of: 0x0a, in: buffer, from: i)
            if i == recordStart { firstLineEnd = eol }
            if eol == n {
                // Unterminated last line.
                if isFinal && n > recordStart {
                    body(UnsafeBufferPointer(rebasing: buffer[recordStart..<n]), firstLineEnd - recordStart)
                    return n
                }
                return recordStart
            }
            let next = eol + 1
            if next < n {
                if buffer[next] != 0x20 {
                    if next - recordStart > 1 {
                        body(UnsafeBufferPointer(rebasing: buffer[recordStart..<next]), firstLineEnd - recordStart)
                    }
                    recordStart = next
                }
            } else {
                // The buffer ends exactly after a newline: a dictionary line may still follow.
                if isFinal {
                    if next - recordStart > 1 {
                        body(UnsafeBufferPointer(rebasing: buffer[recordStart..<next]), firstLineEnd - recordStart)
                    }
                    return n
                }
                return recordStart
            }
            i = next
        }
        return recordStart
    }
}
