import ServiceLifecycle

/// Rescans sysfs every `[topology] rescan_interval` — the only timer besides the watchdog.
final class TopologyService: Service, Sendable {
    let core: DaemonCore

    init(core: DaemonCore) { self.core = core }

    func run() async throws {
        while !Task.isShuttingDownGracefully {
            let interval = core.configuration.rescanInterval
            do {
                try await cancelWhenGracefulShutdown { try await quietSleep(for: interval) }
            } catch {
                return
            }
            core.rescan()
        }
    }
}
