import Glibc
import IOMMUCore
import Logging
import ServiceLifecycle
import Synchronization

/// What a running daemon needs to reload itself.
final class DaemonRuntime: Sendable {
    let configPath: String?
    let core: DaemonCore
    let metricsServer: MetricsServer
    let logger: Logger
    let logLevel: LogLevelBox

    /// `iommud run`'s flags, applied again over every reloaded file.
    let overrides: CommandLineOverrides

    init(
        configPath: String?, core: DaemonCore, metricsServer: MetricsServer, logger: Logger, logLevel: LogLevelBox,
        overrides: CommandLineOverrides = CommandLineOverrides()
    ) {
        self.configPath = configPath
        self.overrides = overrides
        self.core = core
        self.metricsServer = metricsServer
        self.logger = logger
        self.logLevel = logLevel
    }

    func reload() async {
        SystemdNotify.send("RELOADING=1")
        defer { SystemdNotify.send("READY=1\nSTATUS=\(core.statusLine())") }
        let old = core.configuration
        switch loadConfiguration(path: configPath).map(overrides.applied) {
        case .failure(let problems):
            core.reloadFailed()
            for p in problems.problems { logger.error("reload failed, keeping the running configuration: \(p)") }
        case .success(var new):
            // Sources, state and the control socket need a restart; say so rather than
            // pretend, and keep the running values.
            var needsRestart: [String] = []
            if new.kmsgPath != old.kmsgPath || new.interruptsPath != old.interruptsPath
                || new.sysfsRoot != old.sysfsRoot
                || new.acceptUserFacility != old.acceptUserFacility || new.bootIDPath != old.bootIDPath
            {
                needsRestart.append("[sources]")
            }
            if new.stateDirectory != old.stateDirectory { needsRestart.append("[state] directory") }
            if new.controlSocket != old.controlSocket { needsRestart.append("[control] socket") }
            if !needsRestart.isEmpty {
                logger.warning(
                    "reload: \(needsRestart.joined(separator: ", ")) changed; that takes effect after a restart")
                new.kmsgPath = old.kmsgPath
                new.interruptsPath = old.interruptsPath
                new.sysfsRoot = old.sysfsRoot
                new.acceptUserFacility = old.acceptUserFacility
                new.bootIDPath = old.bootIDPath
                new.stateDirectory = old.stateDirectory
                new.controlSocket = old.controlSocket
            }
            // The web config (TLS, basic auth) is re-read on every SIGHUP; a broken one keeps the
            // running one, and the reload metric stays 0 until a good version loads.
            metricsServer.security?.reload(path: new.webConfig)
            if new.listen != old.listen {
                do {
                    try await metricsServer.rebind(new.listen)
                } catch {
                    core.reloadFailed()
                    logger.error("reload failed, keeping the running configuration: \(error)")
                    return
                }
            }
            logLevel.level.withLock { $0 = new.logLevel }
            if new.expectedRules != old.expectedRules {
                logger.info("reload: \(new.expectedRules.rules.count) expected-fault rule(s) from now on")
            }
            core.applyReload(new)
            core.rescan()
            logger.info("configuration reloaded from \(configPath ?? "built-in defaults")")
        }
    }
}
