// libFuzzer target: journal fields read back (`iommud log`, the restart's journaled mark):
// JournalEntries.fault(fromFields:) over `KEY=value` lines, and `journalctl -o json` lines as
// replay decodes them (JournalJSONDecoder over MiniJSON).

@testable import IOMMUCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJournal(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    var fields: [String: String] = [:]
    for line in text.split(separator: "\n") {
        guard let eq = line.firstIndex(of: "=") else { continue }
        fields[String(line[..<eq])] = String(line[line.index(after: eq)...])
    }
    if let f = JournalEntries.fault(fromFields: fields) {
        _ = f.jsonLine()
        _ = JournalEntries.fault(f, device: .init(), realtimeOffsetUsec: 0)
    }
    for line in text.split(separator: "\n") {
        if let r = JournalJSONDecoder.record(String(line)) { _ = r.text.utf8.count }
    }
    _ = MiniJSON.parse(text)
    return 0
}
