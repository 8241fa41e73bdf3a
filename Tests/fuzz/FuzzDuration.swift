// libFuzzer target: DurationSyntax (iommud.toml's durations, rate_limit.interval, the relative
// times of `iommud log`) over arbitrary text, and its printing over arbitrary values.
//
// Invariants: a duration is never negative; what is printed reads back as the same value;
// the config's Duration conversions never trap.

import ConfigSyntax
@testable import IOMMUConfig

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDuration(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    switch DurationSyntax.microseconds(String(decoding: bytes, as: UTF8.self)) {
    case .success(let us):
        precondition(us >= 0)
        let text = DurationSyntax.text(microseconds: us)
        precondition(DurationSyntax.microseconds(text) == .success(us), "\(us) prints as \(text)")
        let d = Duration.microseconds(us)
        precondition(d.totalMicroseconds == us && d.configText == text)
        _ = d.totalMilliseconds
    case .failure(let p):
        precondition(!p.message.isEmpty && p.message.utf8.count < 300)  // a bad value is quoted short
    }
    // Any Int64 prints and reads back (negative ones print with a sign and are refused).
    if size >= 8 {
        var v: Int64 = 0
        for k in 0..<8 { v = v << 8 | Int64(bytes[k]) }
        let text = DurationSyntax.text(microseconds: v)
        let back = DurationSyntax.microseconds(text)
        precondition(v < 0 ? (try? back.get()) == nil : back == .success(v))
        _ = Duration.microseconds(v).totalMilliseconds
    }
    return 0
}
