import IOMMUCore
import Logging
import Testing

@testable import IOMMUDaemon

/// `/-/healthy` and `/-/ready` from the core's flags: each way each can answer.
@Suite("Probe endpoints")
struct ProbeEndpointsTests {
    func core() -> DaemonCore {
        DaemonCore(
            config: Configuration(), pipeline: KmsgPipeline(), lifetime: LifetimeTotals(), bootID: "b",
            logger: Logger(label: "test"))
    }

    func status(_ path: String, _ core: DaemonCore) -> UInt? {
        ProbeEndpoints.response(path: path, core: core).map { $0.status.code }
    }

    @Test("ready only once the backlog is read")
    func ready() {
        let c = core()
        #expect(status(ProbeEndpoints.ready, c) == 503)
        c.backlogRead()
        #expect(status(ProbeEndpoints.ready, c) == 200)
    }

    @Test(
        "healthy while the reader lives and no batch is stuck; 503 when a batch runs past the limit or the reader stopped"
    )
    func healthy() {
        let c = core()
        #expect(status(ProbeEndpoints.healthy, c) == 200)
        // A batch folding in for 11 s: the loop is stuck.
        c.facts.withLock { $0.processingSinceUsec = Clocks.monotonicUsec() - 11_000_000 }
        #expect(status(ProbeEndpoints.healthy, c) == 503)
        // One that began just now is normal work.
        c.facts.withLock { $0.processingSinceUsec = Clocks.monotonicUsec() }
        #expect(status(ProbeEndpoints.healthy, c) == 200)
        c.facts.withLock { $0.processingSinceUsec = nil }
        c.readerStopped()
        #expect(status(ProbeEndpoints.healthy, c) == 503)
        #expect(status("/metrics", c) == nil)
    }
}
