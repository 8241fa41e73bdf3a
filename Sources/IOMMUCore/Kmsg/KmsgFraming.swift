/// Frames a byte stream into kmsg records: a header line plus the following lines that begin
/// with one space. /dev/kmsg hands out one record per read(); a FIFO or a saved file is a plain
/// byte stream, and this is what lets the same reader consume both (ARCHITECTURE.md).
public enum KmsgFraming {
    /// Calls `body` with each complete record in `buffer` and returns how many bytes were
    /// consumed. A record is complete once the line after it is known not to be a dictionary
    /// line — or, when `isFinal`, at the end of the buffer.
    public static func forEachRecord(
        in buffer: UnsafeBufferPointer<UInt8>, isFinal: Bool, _ body: (UnsafeBufferPointer<UInt8>) -> Void
    ) -> Int {
        var recordStart = 0
        var i = 0
        let n = buffer.count
        while i < n {
            // Find the end of the current line.
            let eol = ByteSearch.index(of: 0x0a, in: buffer, from: i)
            if eol == n {
                // Unterminated last line.
                if isFinal && n > recordStart {
                    body(UnsafeBufferPointer(rebasing: buffer[recordStart..<n]))
                    return n
                }
                return recordStart
            }
            let next = eol + 1
            if next < n {
                if buffer[next] != 0x20 {
                    if next - recordStart > 1 { body(UnsafeBufferPointer(rebasing: buffer[recordStart..<next])) }
                    recordStart = next
                }
            } else {
                // The buffer ends exactly after a newline: a dictionary line may still follow.
                if isFinal {
                    if next - recordStart > 1 { body(UnsafeBufferPointer(rebasing: buffer[recordStart..<next])) }
                    return n
                }
                return recordStart
            }
            i = next
        }
        return recordStart
    }
}
