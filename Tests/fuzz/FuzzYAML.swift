// libFuzzer target: the web config ([http] web_config) — YAMLSubset over arbitrary text, then
// WebConfigParser (the exporter-toolkit schema, ranges, bcrypt hashes, headers). Built by
// run.sh against Sources/ConfigSyntax and the config layer of Sources/IOMMUDaemon.
//
// Invariants: every node and every problem names a line of the text; nesting stays within
// the limit; an accepted rate limit is within its range and converts as the daemon's token
// bucket converts it.

import ConfigSyntax
@testable import IOMMUConfig

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzYAML(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let lines = text.utf8.reduce(1) { $1 == 10 ? $0 + 1 : $0 }
    func walk(_ n: YAMLSubset.Node, depth: Int) {
        precondition((1...lines).contains(n.line))
        precondition(depth <= ConfigSyntaxLimits.maxDepth + 1)
        _ = n.int
        _ = n.bool
        switch n.value {
        case .mapping(let pairs):
            for p in pairs {
                walk(p.key, depth: depth + 1)
                walk(p.value, depth: depth + 1)
            }
        case .sequence(let items): for i in items { walk(i, depth: depth + 1) }
        case .null, .scalar: break
        }
    }
    do {
        if let root = try YAMLSubset.compose(text) { walk(root, depth: 1) }
    } catch {
        precondition((1...lines).contains(error.line) && !error.message.isEmpty)
        precondition(error.message.utf8.count < 1000)
    }
    switch WebConfigParser.parse(path: "fuzz.yml", text: text) {
    case .failure(let p):
        precondition(!p.problems.isEmpty)
        for problem in p.problems {
            precondition(problem.line.map { (1...lines).contains($0) } ?? true)
            precondition(problem.description.utf8.count < 1000)
        }
    case .success(let c):
        if let r = c.rateLimit {
            precondition(WebConfig.intervalRange.contains(r.interval.totalMicroseconds))
            precondition(WebConfig.burstRange.contains(r.burst))
            _ = max(1, r.interval.totalMilliseconds * 1000)  // RateLimiter's interval
            _ = r.interval.configText
        }
        for (_, hash) in c.users { precondition(WebConfigParser.isBcryptHash(hash)) }
        for h in c.headers { precondition(!h.value.utf8.contains { $0 < 0x20 && $0 != 9 }) }
    }
    return 0
}
