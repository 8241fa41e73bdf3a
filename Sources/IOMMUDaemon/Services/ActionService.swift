import Glibc
import IOMMUCore
import Logging
import Synchronization

/// Runs `[actions] on_fault` / `on_storm` commands the way rasdaemon and mcelog users expect:
/// argv run directly with posix_spawn (no shell, no PATH lookup), the event's fields as
/// environment variables, stdin from /dev/null, in a process group of their own.
///
/// Bounded, for each of on_fault and on_storm on its own (so fault actions never starve the
/// storm's): at most `max_per_minute` starts in any 60 s and `max_concurrent` at once (what is
/// over the bound is skipped and said); a command still running at `timeout` gets SIGTERM, and
/// SIGKILL 2 s later (its whole process group). Failures — cannot start, non-zero exit, killed
/// by a signal or the timeout — are logged and counted in iommud_action_failures_total.
///
/// At most once: before a command starts, the kmsg seq it belongs to is written to
/// `<state>/actions` (with the boot id); after a crash or restart, events at or below it are
/// not run again (`HandledMark`, ExactlyOnce.swift).
///
/// What a command inherits: the service's sandbox (under the shipped unit: no network but
/// AF_UNIX, a read-only file system but the state directory, no new privileges —
/// systemd/iommud.service; `systemd/iommud-actions-network.conf` is a drop-in that opens what a
/// webhook needs), the daemon's user, and an environment of the event's journal fields only.
final class ActionService: Sendable {
    struct Limits: Sendable, Equatable {
        var timeout: Duration
        var maxPerMinute: Int
        var maxConcurrent: Int

        init(_ c: Configuration) {
            timeout = c.actionTimeout
            maxPerMinute = c.actionsMaxPerMinute
            maxConcurrent = c.actionsMaxConcurrent
        }
    }

    struct State: Sendable {
        /// Per hook (`on_fault`, `on_storm`): starts in the last minute.
        var starts: [String: WindowBudget] = [:]
        var running: [String: Int] = [:]
        var skipped: UInt64 = 0
        var lastSkipNoticeUsec: Int64?
        /// Events at or below this seq had their action started (this boot).
        var handled = HandledMark()
        /// Commands that could not start, exited non-zero, or were killed at their timeout.
        var failures: UInt64 = 0
    }

    let configuration: @Sendable () -> Configuration
    let logger: Logger
    let seqPath: String
    let bootID: String
    let state: Mutex<State>
    static let killGrace: Duration = .seconds(2)
    static let path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    init(
        configuration: @escaping @Sendable () -> Configuration, stateDirectory: String, bootID: String,
        logger: Logger
    ) {
        self.configuration = configuration
        self.logger = logger
        self.seqPath = stateDirectory + "/actions"
        self.bootID = bootID
        var st = State()
        st.handled = HandledMark(through: Self.loadSeq(path: seqPath, bootID: bootID))
        state = Mutex(st)
    }

    var failures: UInt64 { state.withLock { $0.failures } }

    /// Runs `on_fault` for each fault reported on its own and `on_storm` for each storm that
    /// begins, in kmsg order. Faults an `[[expected]]` rule matched run nothing.
    func handle(_ items: [FaultStreamItem], topology: Topology) {
        let config = configuration()
        guard !config.onFault.isEmpty || !config.onStorm.isEmpty else { return }
        let offset = Clocks.realtimeOffsetUsec()
        for item in items {
            switch item {
            case .fault(let f, .single) where !config.onFault.isEmpty:
                let fields = JournalEntries.fault(
                    f, device: JournalEntries.DeviceInfo(f.device.flatMap { topology.devices[$0] }),
                    realtimeOffsetUsec: offset)
                run(
                    config.onFault, hook: "on_fault", environment: JournalEntries.environment(fields, event: "fault"),
                    seq: f.seq, what: "the fault at kmsg seq \(f.seq.map(String.init) ?? "-")")
            case .storm(let e) where !config.onStorm.isEmpty:
                guard case .began = e else { continue }
                let fields = JournalEntries.storm(
                    e, policy: StormTracker.Policy(config),
                    device: JournalEntries.DeviceInfo(
                        PCIAddress(parsing: e.storm.device).flatMap { topology.devices[$0] }),
                    realtimeOffsetUsec: offset)
                run(
                    config.onStorm, hook: "on_storm", environment: JournalEntries.environment(fields, event: "storm"),
                    seq: e.seq, what: "the fault storm on \(e.storm.device)")
            default:
                continue
            }
        }
    }

    static func loadSeq(path: String, bootID: String) -> UInt64? {
        guard let text = try? readSmallFile(path) else { return nil }
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard parts.count == 2, parts[0] == bootID else { return nil }
        return UInt64(parts[1])
    }

    /// Records `seq` as done before its command starts (write, fsync, rename).
    func saveSeq(_ seq: UInt64) -> Bool {
        let tmp = seqPath + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        var text = "\(bootID) \(seq)\n"
        let ok = text.withUTF8 { write(fd, $0.baseAddress, $0.count) == $0.count }
        fsync(fd)
        close(fd)
        return ok && rename(tmp, seqPath) == 0
    }

    /// Starts `argv` for the event at `seq` unless an earlier run already did, or the bounds
    /// say no. Returns at once; the command is waited for on a task of its own.
    func run(_ argv: [String], hook: String, environment: [String], seq: UInt64?, what: String) {
        guard let program = argv.first else { return }
        let limits = Limits(configuration())
        let now = Clocks.monotonicUsec()
        let verdict: String? = state.withLock { s in
            if !s.handled.isNew(seq) { return "done" }
            var starts = s.starts[hook] ?? WindowBudget(limit: limits.maxPerMinute, periodUsec: 60_000_000)
            if starts.limit != limits.maxPerMinute {
                starts = WindowBudget(limit: limits.maxPerMinute, periodUsec: 60_000_000)
            }
            defer { s.starts[hook] = starts }
            if s.running[hook, default: 0] >= limits.maxConcurrent {
                return "max_concurrent = \(limits.maxConcurrent) \(hook) commands are running"
            }
            if !starts.take(now: now) { return "\(hook) reached max_per_minute = \(limits.maxPerMinute)" }
            s.running[hook, default: 0] += 1
            if let seq { s.handled.advance(to: seq) }
            return nil
        }
        if let verdict {
            if verdict == "done" { return }
            let say = state.withLock { s -> UInt64? in
                s.skipped += 1
                if let last = s.lastSkipNoticeUsec, now - last < 60_000_000 { return nil }
                s.lastSkipNoticeUsec = now
                return s.skipped
            }
            if let n = say {
                logger.notice(
                    "action for \(what) skipped: \(verdict) (\(n) skipped so far; the counters and the journal still have every fault)"
                )
            }
            return
        }
        if let seq, !saveSeq(seq) {
            logger.warning(
                "cannot write \(seqPath): after a crash the action for \(what) could run again")
        }
        let pid: pid_t
        switch Self.spawn(argv, environment: [Self.path] + environment) {
        case .success(let p): pid = p
        case .failure(let e):
            state.withLock { $0.running[hook, default: 1] -= 1 }
            state.withLock { $0.failures += 1 }
            logger.error(
                "action \(program) for \(what) could not start: \(String(cString: strerror(e.code)))")
            return
        }
        logger.debug("action \(program) for \(what) started as pid \(pid)")
        Task.detached { [self] in
            let outcome = await Self.wait(pid: pid, timeout: limits.timeout)
            self.state.withLock { $0.running[hook, default: 1] -= 1 }
            switch outcome {
            case .exited(0):
                logger.debug("action \(program) for \(what) (pid \(pid)) succeeded")
            case .exited(let code):
                self.state.withLock { $0.failures += 1 }
                logger.error("action \(program) for \(what) (pid \(pid)) failed: exit status \(code)")
            case .signaled(let sig):
                self.state.withLock { $0.failures += 1 }
                logger.error("action \(program) for \(what) (pid \(pid)) was killed by signal \(sig)")
            case .timedOut(let killed):
                self.state.withLock { $0.failures += 1 }
                logger.error(
                    "action \(program) for \(what) (pid \(pid)) still ran after timeout = \"\(limits.timeout.configText)\": sent SIGTERM\(killed ? ", then SIGKILL" : "") to its process group"
                )
            }
        }
    }

    struct SpawnError: Error {
        var code: Int32
    }

    /// posix_spawn with its own process group, default signal dispositions and an empty mask
    /// (the daemon ignores SIGTERM/SIGPIPE for its own handling; a child must not inherit that).
    static func spawn(_ argv: [String], environment: [String]) -> Result<pid_t, SpawnError> {
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM] {
            sigaddset(&defaults, sig)
        }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(
            &attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        let cArgv = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup($0) } + [nil]
        defer {
            for p in cArgv { free(p) }
            for p in cEnv { free(p) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, &attr, cArgv, cEnv)
        return rc == 0 ? .success(pid) : .failure(SpawnError(code: rc))
    }

    enum Outcome {
        case exited(Int32)
        case signaled(Int32)
        case timedOut(killed: Bool)
    }

    /// Polls waitpid (an action is rare and short; no SIGCHLD handler to share with anyone).
    static func wait(pid: pid_t, timeout: Duration) async -> Outcome {
        let start = ContinuousClock.now
        var termAt: ContinuousClock.Instant?
        var killed = false
        while true {
            var status: Int32 = 0
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid {
                if termAt != nil { return .timedOut(killed: killed) }
                let sig = status & 0x7f
                if sig == 0 { return .exited((status >> 8) & 0xff) }
                return .signaled(sig)
            }
            if r < 0 && errno != EINTR { return termAt != nil ? .timedOut(killed: killed) : .exited(-1) }
            let now = ContinuousClock.now
            if termAt == nil, now - start >= timeout {
                kill(-pid, SIGTERM)
                termAt = now
            } else if let t = termAt, !killed, now - t >= killGrace {
                kill(-pid, SIGKILL)
                killed = true
            }
            try? await quietSleep(for: .milliseconds(20))
        }
    }
}
