import Glibc
import ServiceLifecycle
import Synchronization

/// A stop signal that arrived while the daemon was still starting (before the service group
/// owned SIGTERM/SIGINT) is remembered here and turned into a graceful shutdown once it runs.
let earlyStopSignal = Atomic<Int32>(0)

func rememberEarlyStopSignals() {
    for sig in [SIGTERM, SIGINT] {
        signal(sig) { s in earlyStopSignal.store(s, ordering: .relaxed) }
    }
    // A reload request while starting needs no action: the config is being read right now.
    signal(SIGHUP, SIG_IGN)
}

final class EarlyStopService: Service, Sendable {
    func run() async throws {
        if earlyStopSignal.load(ordering: .relaxed) != 0 { return }  // ends the group gracefully
        try? await gracefulShutdown()
    }
}
