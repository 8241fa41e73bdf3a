import CLinux
import Glibc
import IOMMUCore
import Logging
import NIOCore
import ServiceLifecycle

/// `iommud run`: loads the configuration and the checkpoint, builds the pipeline and the
/// services around it, and runs them until a stop signal. Each part lives in a file of its own
/// (ARCHITECTURE.md "Data flow"); this one only wires them.
public enum Daemon {
    /// Returns the process exit code. `freshStart`: start from zero when the checkpoint cannot
    /// be used (newer format, unreadable), instead of refusing to start.
    public static func run(
        configPath: String?, foreground: Bool, freshStart: Bool = false,
        overrides: CommandLineOverrides = CommandLineOverrides()
    ) async -> Int32 {
        rememberEarlyStopSignals()
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
                config: config, configPath: configPath, freshStart: freshStart, logger: logger, levelBox: levelBox,
                overrides: overrides)
        } catch let f as DaemonFailure {
            logger.critical("\(f.message)")
            if foreground == false { writeStderr("iommud: \(f.message)\n") }
            return f.exitCode.rawValue
        } catch {
            logger.critical("\(error)")
            return 1
        }
    }

    /// The HTTP endpoint's limits: the configured cap, lowered when the file descriptor limit
    /// would not leave room for the daemon's own work (the checkpoint, sysfs, /proc, the
    /// journal, actions, the control socket's 16): it keeps `reservedFDs` for itself.
    static let reservedFDs = 128

    static func connectionLimits(_ config: Configuration, logger: Logger) -> ConnectionLimits {
        var nofile = rlimit()
        let limit =
            getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &nofile) == 0 ? Int(clamping: nofile.rlim_cur) : 1024
        let room = max(8, limit - reservedFDs)
        if config.httpMaxConnections > room {
            logger.warning(
                "[http] max_connections = \(config.httpMaxConnections) leaves too few of the \(limit) file descriptors (RLIMIT_NOFILE) for the daemon's own work: using \(room)"
            )
        }
        let timeout = TimeAmount.microseconds(max(1, config.httpRequestTimeout.totalMicroseconds))
        return ConnectionLimits(maxConnections: min(config.httpMaxConnections, room), requestTimeout: timeout)
    }

    static func readBootID(_ path: String, logger: Logger) -> String {
        if let id = try? readSmallFile(path) {
            let t = id.trimmingCharacters()
            if !t.isEmpty && t.utf8.count <= 64 { return t }
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

    /// `[estimate] intel_ratelimit`: named, or from the running kernel's release (upstream's
    /// history; an unreadable release gets the v4.19–v6.15 shape, the most common one).
    static func intelRatelimitShape(_ config: Configuration, logger: Logger) -> DMARFaultEstimator.KernelShape {
        if let named = DMARFaultEstimator.KernelShape(rawValue: config.intelRatelimit) { return named }
        guard let release = try? readSmallFile(config.osReleasePath).trimmingCharacters(), !release.isEmpty else {
            logger.warning(
                "cannot read the kernel release from \(config.osReleasePath): the Intel fault estimate assumes the v4.19-v6.15 ratelimit (set [estimate] intel_ratelimit)"
            )
            return .perCall
        }
        let shape = DMARFaultEstimator.KernelShape.forRelease(release)
        logger.debug("kernel \(release): Intel fault estimate with the \(shape.rawValue) ratelimit")
        return shape
    }

    /// What the checkpoint gives this run: the pipeline to start from, the totals of earlier
    /// boots, and the journal's mark.
    struct Resume {
        var pipeline: KmsgPipeline
        var lifetime = LifetimeTotals()
        var journaledSeq: UInt64?
    }

    static func resume(
        from store: CheckpointStore, config: Configuration, bootID: String, topology: Topology, freshStart: Bool,
        logger: Logger
    ) throws(DaemonFailure) -> Resume {
        let options = Classifier.Options(acceptUserFacility: config.acceptUserFacility)
        let shape = intelRatelimitShape(config, logger: logger)
        var empty = FaultLedger()
        empty.dmarEstimator = DMARFaultEstimator(shape: shape)
        var fresh = Resume(pipeline: KmsgPipeline(options: options, ledger: empty, topology: topology))
        fresh.pipeline.setDeviceLimit(config.maxDevices)
        fresh.lifetime.sinceUsec = Clocks.realtimeUsec()
        switch store.load() {
        case .none:
            logger.info("no checkpoint in \(config.stateDirectory): reading the whole ring buffer")
            return fresh
        case .corrupt(let reason, let moved):
            logger.warning(
                "the checkpoint \(store.path) is corrupt (\(reason)); moved it to \(moved ?? "nowhere (deleted)") and starting from zero"
            )
            return fresh
        case .unusable(let reason):
            // Newer than this iommud, or unreadable: its totals are real. Never drop them
            // silently; the admin decides (a downgrade, a permission problem).
            guard freshStart else {
                throw DaemonFailure(
                    .stateUnusable,
                    "the checkpoint \(store.path) cannot be used: \(reason). Its counts would be lost. Fix it (or run the iommud that wrote it), or start from zero with `iommud run --fresh-start` (the file is then moved aside)."
                )
            }
            let moved = store.moveAside()
            logger.warning(
                "the checkpoint \(store.path) cannot be used (\(reason)); --fresh-start: moved it to \(moved ?? "nowhere") and starting from zero"
            )
            return fresh
        case .loaded(let cp):
            if cp.version < CheckpointState.currentVersion {
                logger.notice("migrating the checkpoint from format \(cp.version) to \(CheckpointState.currentVersion)")
            }
            guard cp.bootID == bootID else {
                fresh.lifetime = cp.lifetime
                fresh.lifetime.fold(cp.ledger)
                if fresh.lifetime.sinceUsec == nil { fresh.lifetime.sinceUsec = cp.writtenUsec }
                logger.info(
                    "new boot (\(bootID)): counters start at zero; \(fresh.lifetime.faults) faults in earlier boots")
                return fresh
            }
            var ledger = cp.ledger
            ledger.deviceLimit = config.maxDevices
            ledger.dmarEstimator.shape = shape
            var r = Resume(
                pipeline: KmsgPipeline(
                    options: options, resume: (cp.resumeSeq, cp.countedSeq), countedOutputs: cp.countedOutputs,
                    ledger: ledger, topology: topology),
                lifetime: cp.lifetime, journaledSeq: cp.journaledSeq)
            r.pipeline.setDeviceLimit(config.maxDevices)
            logger.info(
                "resuming this boot after kmsg seq \(cp.resumeSeq.map(String.init) ?? "-") with \(ledger.totalFaults) faults counted"
            )
            return r
        }
    }

    static func start(
        config: Configuration, configPath: String?, freshStart: Bool, logger: Logger, levelBox: LogLevelBox,
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
        let topology = TopologyScanner(sysfsRoot: config.sysfsRoot, cmdlinePath: config.cmdlinePath).scan()
        if !isDirectory(config.sysfsRoot + "/class") {
            logger.warning(
                "cannot read \(config.sysfsRoot)/class: without sysfs, faults are not attributed to units and devices are not named (mount sysfs or fix [sources] sysfs)."
            )
        }
        var resume = try resume(
            from: store, config: config, bootID: bootID, topology: topology, freshStart: freshStart, logger: logger)
        resume.pipeline.setExpectedRules(config.expectedRules)
        let core = DaemonCore(
            config: config, pipeline: resume.pipeline, lifetime: resume.lifetime, bootID: bootID, logger: logger)
        let reader = KmsgReader(path: config.kmsgPath, core: core, logger: logger)
        try reader.open()
        webSecurity.reportStatus { ok in core.setWebConfigOK(ok) }

        let configuration: @Sendable () -> Configuration = { core.configuration }
        let journal = JournalSink(
            configuration: configuration, logger: logger,
            startedEntry: {
                let s = core.snapshot()
                return JournalEntries.daemonStarted(
                    version: BuildInfo.version, source: config.kmsgPath, units: s.topology.units.count,
                    resumedAfterSeq: s.position.resumeSeq)
            },
            stoppedEntry: {
                let l = core.snapshot().ledger
                return JournalEntries.daemonStopped(
                    version: BuildInfo.version, faults: l.totalFaults, lost: l.lostRecords)
            })
        journal.prepare(checkpointJournaledSeq: resume.journaledSeq)
        let actions = ActionService(
            configuration: configuration, stateDirectory: config.stateDirectory, bootID: bootID, logger: logger)
        let storms = StormService(configuration: configuration) { items in
            let topology = core.topology
            journal.handleStormEvents(items, topology: topology)
            actions.handle(items, topology: topology)
        }
        let checkpoints = CheckpointService(
            core: core, store: store, interval: config.checkpointInterval, logger: logger,
            journaledSeq: { config.journalEnabled ? journal.journaledSeq : nil })
        let views = DaemonViews(
            core: core, storms: storms, journal: journal, actions: actions, checkpoints: checkpoints)

        let group = DaemonEventLoop.group
        let metricsServer = MetricsServer(
            group: group, views: views, listen: config.listen, passedFDs: SystemdNotify.listenFDs(), logger: logger,
            security: webSecurity, limits: Self.connectionLimits(config, logger: logger))
        let control = ControlServer(group: group, views: views, path: config.controlSocket, logger: logger)
        try await metricsServer.bind()
        try await control.bind()
        let runtime = DaemonRuntime(
            configPath: configPath, core: core, metricsServer: metricsServer, logger: logger, logLevel: levelBox,
            overrides: overrides)
        // A graceful stop ends the services in reverse order: the reader first (its last batches
        // still reach the journal), the checkpoint last (with the journal's final mark).
        var services: [any Service] = [
            checkpoints, journal, storms, metricsServer, control, ReloadService(daemon: runtime),
            TopologyService(core: core),
            KmsgService(
                reader: reader, core: core, storms: storms, journal: journal, actions: actions,
                checkpoints: checkpoints, views: views, logger: logger),
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
