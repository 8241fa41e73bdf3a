import Testing

@testable import IOMMUDaemon

/// The order the static runtime's global executor (System/GlobalExecutor.swift) runs jobs in.
@Suite("Global executor: job order")
struct GlobalExecutorTests {
    @Test("the highest priority first, first come first served within one")
    func order() {
        var q = PriorityQueue<String>()
        #expect(q.isEmpty && q.pop() == nil)
        // Task priorities: background 0x09, utility 0x11, medium 0x15, high 0x19.
        for (name, p) in [("u1", 0x11), ("m1", 0x15), ("b1", 0x09), ("h1", 0x19), ("m2", 0x15), ("h2", 0x19)] {
            q.push(name, priority: UInt8(p))
        }
        #expect(q.pop() == "h1" && q.pop() == "h2")
        q.push("h3", priority: 0x19)  // comes while lower ones wait: still before them
        var rest: [String] = []
        while let x = q.pop() { rest.append(x) }
        #expect(rest == ["h3", "m1", "m2", "u1", "b1"])
        #expect(q.isEmpty)
        q.push("again", priority: 0)
        #expect(q.pop() == "again" && q.isEmpty)
    }
}
