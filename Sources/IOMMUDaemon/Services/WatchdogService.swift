import Logging
import ServiceLifecycle

/// WATCHDOG=1 every half interval, but only while the event loop is healthy — a stuck loop or
/// a dead reader lets systemd restart the service.
final class WatchdogService: Service, Sendable {
    let core: DaemonCore
    let interval: Duration
    let logger: Logger

    init(core: DaemonCore, interval: Duration, logger: Logger) {
        self.core = core
        self.interval = interval
        self.logger = logger
    }

    func run() async throws {
        var warned = false
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            if core.isHealthy(limit: interval / 2) {
                SystemdNotify.send("WATCHDOG=1")
                warned = false
            } else if !warned {
                warned = true
                logger.error("event loop unhealthy: not sending WATCHDOG=1, systemd will restart iommud")
            }
            do {
                // A stop cuts the wait short (WatchdogSec/2 would eat most of TimeoutStopSec).
                try await cancelWhenGracefulShutdown { try await quietSleep(for: self.interval / 2) }
            } catch {
                break
            }
        }
    }
}
