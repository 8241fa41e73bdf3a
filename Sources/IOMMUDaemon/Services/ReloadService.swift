import ServiceLifecycle
import UnixSignals

/// SIGHUP: reload the config without re-reading kmsg and without resetting any counter. A
/// broken new config keeps the old one running and says why.
final class ReloadService: Service, Sendable {
    let daemon: DaemonRuntime

    init(daemon: DaemonRuntime) { self.daemon = daemon }

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            await daemon.reload()
        }
    }
}
