import CLinux
import Glibc
import IOMMUCore
import Logging
import NIOPosix
import ServiceLifecycle
import Synchronization

/// Loads a config file, or the built-in defaults when the default path does not exist.
public func loadConfiguration(path: String?) -> Result<Configuration, ConfigProblems> {
    let file = path ?? Configuration.defaultPath
    if path == nil && !fileExists(file) { return .success(Configuration()) }
    let text: String
    do {
        text = try readSmallFile(file)
    } catch {
        return .failure(
            ConfigProblems([
                ConfigProblem(
                    file: file, line: nil, key: nil, reason: .unreadable(String(cString: strerror(error.errno))))
            ]))
    }
    return ConfigLoader.load(path: file, text: text)
}

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
            core.setTopology(TopologyScanner(sysfsRoot: new.sysfsRoot, cmdlinePath: new.cmdlinePath).scan())
            core.applyReload(new)
            logger.info("configuration reloaded from \(configPath ?? "built-in defaults")")
        }
    }
}

public enum Daemon {
    /// `iommud run`. Returns the process exit code.
    public static func run(
        configPath: String?, foreground: Bool, overrides: CommandLineOverrides = CommandLineOverrides()
    ) async -> Int32 {
        rememberEarlyStopSignals()
        // (One malloc arena for every thread: set in main.swift before any thread starts.)
        let config: Configuration
        switch loadConfiguration(path: configPath) {
        case .success(let c): config = overrides.applied(to: c)
        case .failure(let problems):
            for p in problems.problems { writeStderr("iommud: \(p)\n") }
            return ExitCode.config.rawValue
        }
        let levelBox = LogLevelBox(config.logLevel)
        LoggingSystem.bootstrap { label in
            var h: LogHandler =
                foreground
                ? stderrLogHandler(format: overrides.logFormat)
                : JournalLogHandler(
                    label: label, fallback: overrides.logFormat.map { FormattedStderrLogHandler(format: $0) })
            h.logLevel = .trace
            return LevelFilter(inner: h, level: levelBox)
        }
        let logger = Logger(label: "iommud")
        do {
            return try await start(
                config: config, configPath: configPath, logger: logger, levelBox: levelBox, overrides: overrides)
        } catch let f as DaemonFailure {
            logger.critical("\(f.message)")
            if foreground == false { writeStderr("iommud: \(f.message)\n") }
            return f.exitCode.rawValue
        } catch {
            logger.critical("\(error)")
            return 1
        }
    }

    static func readBootID(_ path: String, logger: Logger) -> String {
        if let id = try? readSmallFile(path) {
            let t = id.trimmingCharacters()
            if !t.isEmpty { return t }
        }
        // Without a boot id a restart cannot tell "same boot" from "new boot"; the boot time
        // from /proc/stat is the next best identity.
        if let stat = try? readSmallFile("/proc/stat"),
            let line = stat.split(separator: "\n").first(where: { $0.hasPrefix("btime ") })
        {
            logger.warning("cannot read \(path); using the boot time from /proc/stat as the boot identity")
            return "btime-" + line.dropFirst(6)
        }
        logger.warning("cannot read \(path) nor /proc/stat; every start counts as a new boot")
        return "unknown-\(Clocks.realtimeUsec())"
    }

    static func start(
        config: Configuration, configPath: String?, logger: Logger, levelBox: LogLevelBox,
        overrides: CommandLineOverrides = CommandLineOverrides()
    ) async throws -> Int32 {
        let webSecurity: WebSecurity
        do {
            webSecurity = try WebSecurity(path: config.webConfig, logger: logger)
        } catch {
            throw DaemonFailure(.config, "[http] web_config is not usable:\n\(error)")
        }
        let bootID = readBootID(config.bootIDPath, logger: logger)
        let store = CheckpointStore(directory: config.stateDirectory)
        try store.prepare()
        var ledger = FaultLedger()
        var lifetime = LifetimeTotals()
        var tracker = KmsgSequenceTracker(resumeAfter: nil)
        var resumeAfter: UInt64?
        var countedThrough: UInt64?
        var journaled: UInt64?
        switch store.load() {
        case .none:
            lifetime.sinceUsec = Clocks.realtimeUsec()
            logger.info("no checkpoint in \(config.stateDirectory): reading the whole ring buffer")
        case .corrupt(let reason, let moved):
            lifetime.sinceUsec = Clocks.realtimeUsec()
            logger.warning(
                "the checkpoint \(store.path) is unusable (\(reason)); moved it to \(moved ?? "nowhere (deleted)") and starting clean"
            )
        case .loaded(let cp):
            if cp.version < CheckpointState.currentVersion {
                logger.notice("migrating the checkpoint from format \(cp.version) to \(CheckpointState.currentVersion)")
            }
            if cp.bootID == bootID {
                ledger = cp.ledger
                lifetime = cp.lifetime
                tracker = KmsgSequenceTracker(resumeAfter: cp.resumeSeq, countedThrough: cp.countedSeq)
                resumeAfter = cp.resumeSeq
                countedThrough = cp.countedSeq
                journaled = cp.journaledSeq
                logger.info(
                    "resuming this boot after kmsg seq \(cp.resumeSeq.map(String.init) ?? "-") with \(ledger.totalFaults) faults counted"
                )
            } else {
                lifetime = cp.lifetime
                lifetime.fold(cp.ledger)
                if lifetime.sinceUsec == nil { lifetime.sinceUsec = cp.writtenUsec }
                logger.info("new boot (\(bootID)): counters start at zero; \(lifetime.faults) faults in earlier boots")
            }
        }
        let topology = TopologyScanner(sysfsRoot: config.sysfsRoot, cmdlinePath: config.cmdlinePath).scan()
        if !isDirectory(config.sysfsRoot + "/class") {
            logger.warning(
                "cannot read \(config.sysfsRoot)/class: without sysfs, faults are not attributed to units and devices are not named (mount sysfs or fix [sources] sysfs)."
            )
        }
        let reader = KmsgReader(
            path: config.kmsgPath, tracker: tracker,
            options: Classifier.Options(acceptUserFacility: config.acceptUserFacility), logger: logger)
        try reader.open()
        let core = DaemonCore(
            config: config, ledger: ledger, lifetime: lifetime, topology: topology, bootID: bootID,
            resumeAfter: resumeAfter, countedThrough: countedThrough, journaledSeq: journaled, logger: logger)
        webSecurity.reportStatus { ok in core.setWebConfigOK(ok) }
        let group = DaemonEventLoop.group
        let metricsServer = MetricsServer(
            group: group, core: core, listen: config.listen, passedFDs: SystemdNotify.listenFDs(), logger: logger,
            security: webSecurity)
        let control = ControlServer(group: group, core: core, path: config.controlSocket, logger: logger)
        try await metricsServer.bind()
        try await control.bind()
        let checkpoints = CheckpointService(
            core: core, store: store, interval: config.checkpointInterval, logger: logger)
        let actions = ActionRunner(
            core: core, stateDirectory: config.stateDirectory, bootID: bootID, logger: logger)
        let journal = JournalSink(core: core, actions: actions, config: config, logger: logger)
        journal.prepare(checkpointJournaledSeq: journaled)
        let runtime = DaemonRuntime(
            configPath: configPath, core: core, metricsServer: metricsServer, logger: logger, logLevel: levelBox,
            overrides: overrides)
        var services: [any Service] = [
            KmsgService(reader: reader, core: core, checkpoints: checkpoints, logger: logger, journal: journal),
            checkpoints,
            metricsServer, control, ReloadService(daemon: runtime), journal, TopologyService(core: core),
        ]
        if let wd = SystemdNotify.watchdogInterval() {
            services.append(WatchdogService(core: core, interval: wd, logger: logger))
        }
        var configured = services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) }
        configured.append(
            ServiceGroupConfiguration.ServiceConfiguration(
                service: EarlyStopService(), successTerminationBehavior: .gracefullyShutdownGroup))
        let serviceGroup = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: configured, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        logger.info("iommud \(BuildInfo.version) started (boot \(bootID))")
        var code = ExitCode.success.rawValue
        do {
            try await serviceGroup.run()
        } catch {
            logger.error("stopped on error: \(error)")
            code = 1
        }
        SystemdNotify.send("STOPPING=1")
        logger.info("iommud stopped: \(core.statusLine())")
        return code
    }
}

/// Applies the reloadable level to every handler.
struct LevelFilter: LogHandler {
    var inner: LogHandler
    let level: LogLevelBox

    var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    var logLevel: Logger.Level {
        get { level.level.withLock { $0 } }
        set {}
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) { inner.log(event: event) }
}
