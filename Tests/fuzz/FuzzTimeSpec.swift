// libFuzzer target: `iommud log --since/--until` (TimeSpec) over arbitrary text, at a fixed
// "now" and at one taken from the input (the ends of Int64 included).
//
// Invariant: a time is within the years 1 to 9999, or refused with a sentence; never a trap.

import ConfigSyntax

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTimeSpec(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    var nows: [Int64] = [1_795_679_059_000_000]
    var text = bytes[...]
    if size >= 9 && bytes[0] == UInt8(ascii: "!") {
        var v: Int64 = 0
        for k in 1..<9 { v = v << 8 | Int64(bytes[k]) }
        nows.append(v)
        text = bytes[9...]
    }
    let s = String(decoding: UnsafeBufferPointer(rebasing: text), as: UTF8.self)
    for now in nows {
        switch TimeSpec.read(s, nowUsec: now) {
        case .success(let t): precondition((TimeSpec.earliestUsec...TimeSpec.latestUsec).contains(t))
        case .failure(let p): precondition(!p.message.isEmpty && p.message.utf8.count < 300)
        }
    }
    return 0
}
