import ConfigSyntax
import IOMMUCore

/// The effective configuration (ARCHITECTURE.md "Configuration", contract). Every key is
/// optional; the defaults are here and documented in config/iommud.toml.
public struct Configuration: Sendable, Equatable {
    public static let defaultPath = "/etc/iommud/iommud.toml"

    /// The file it came from (nil: built-in defaults).
    public var file: String?

    // [sources]
    public var kmsgPath = "/dev/kmsg"
    public var interruptsPath = "/proc/interrupts"
    public var sysfsRoot = "/sys"
    public var bootIDPath = "/proc/sys/kernel/random/boot_id"
    public var cmdlinePath = "/proc/cmdline"
    /// The running kernel's release (`uname -r`), for `[estimate] intel_ratelimit = "auto"`.
    public var osReleasePath = "/proc/sys/kernel/osrelease"
    /// Tests only: also count records written from userspace (facility ≠ 0).
    public var acceptUserFacility = false

    // [http]
    public var listen: [ListenAddress] = [ListenAddress(host: "::", port: 10111)]
    /// exporter-toolkit web config (TLS, basic auth); "" = plain HTTP.
    public var webConfig = ""
    /// Open connections to the HTTP endpoint at most; past that a new one takes the place of
    /// the oldest that has not sent a request (ConnectionLimits.swift).
    public var httpMaxConnections = 64
    /// A whole request head within this of connecting or of the last answer, else closed.
    public var httpRequestTimeout: Duration = .seconds(10)
    /// Where the metrics are served: `--web.telemetry-path` only (no TOML key).
    public var telemetryPath = "/metrics"

    // [control]
    public var controlSocket = "/run/iommud/control.sock"

    // [state]
    public var stateDirectory = "/var/lib/iommud"
    public var checkpointInterval: Duration = .seconds(5)

    // [journal]
    public var journalEnabled = true

    // [storm]
    public var stormThreshold = 10
    public var stormWindow: Duration = .seconds(10)
    public var stormSummaryInterval: Duration = .seconds(60)
    public var journalMaxPerSecond = 5

    // [actions]
    public var onFault: [String] = []
    public var onStorm: [String] = []
    public var actionTimeout: Duration = .seconds(10)
    public var actionsMaxPerMinute = 10
    public var actionsMaxConcurrent = 2

    // [log]
    /// As written; `logLevel` is swift-log's (Configuration+Logging.swift).
    public var logLevelSetting: ConfigLogLevel = .info

    // [topology]
    /// sysfs is rescanned this often (and, at most once per 10 s, when a fault names a device
    /// it does not know — hotplug).
    public var rescanInterval: Duration = .seconds(300)
    /// Export every device behind an IOMMU from the start, not only those that faulted.
    public var zeroInitDevices = false
    /// At most this many devices get series of their own; faults of further devices are
    /// counted under device `overflow` (a device forging requester ids cannot grow memory,
    /// the checkpoint and the scrape without end).
    public var maxDevices = FaultLedger.defaultDeviceLimit

    // [estimate]
    /// How `dmar_fault()` ratelimits in the running kernel (the Intel estimate's model):
    /// `auto` (from the release in `[sources] osrelease`) or a `DMARFaultEstimator.KernelShape`.
    public var intelRatelimit = "auto"

    // [[expected]]
    /// Expected-fault rules, in the order they are tried (ExpectedRulesConfig.swift).
    public var expectedRules = ExpectedRules()

    public init() {}

    /// The schema: section → key → type, with the range of every number and duration (documented
    /// next to each key in config/iommud.toml). Unknown sections and keys are errors.
    static let schema: [String: [String: ConfigValueKind]] = [
        "sources": [
            "kmsg": .path, "interrupts": .path, "sysfs": .path, "boot_id": .path, "cmdline": .path,
            "osrelease": .path, "accept_user_facility": .bool,
        ],
        "estimate": ["intel_ratelimit": .oneOf(["auto"] + DMARFaultEstimator.KernelShape.allCases.map(\.rawValue))],
        "http": [
            "listen": .listenArray, "web_config": .optionalPath,
            "max_connections": .integer(ConfigRanges.httpMaxConnections),
            "request_timeout": .duration(ConfigRanges.httpRequestTimeout),
        ],
        "control": ["socket": .path],
        "state": ["directory": .path, "checkpoint_interval": .duration(ConfigRanges.checkpointInterval)],
        "log": ["level": .logLevel],
        "journal": ["enabled": .bool],
        "storm": [
            "threshold": .integer(ConfigRanges.stormThreshold), "window": .duration(ConfigRanges.stormWindow),
            "summary_interval": .duration(ConfigRanges.stormSummaryInterval),
            "journal_max_per_second": .integer(ConfigRanges.journalMaxPerSecond),
        ],
        "actions": [
            "on_fault": .argv, "on_storm": .argv, "timeout": .duration(ConfigRanges.actionTimeout),
            "max_per_minute": .integer(ConfigRanges.actionsMaxPerMinute),
            "max_concurrent": .integer(ConfigRanges.actionsMaxConcurrent),
        ],
        "topology": [
            "rescan_interval": .duration(ConfigRanges.rescanInterval), "zero_init_devices": .bool,
            "max_devices": .integer(ConfigRanges.maxDevices),
        ],
    ]

    mutating func apply(section: String, key: String, value: ConfigValue) {
        switch (section, key, value) {
        case ("sources", "kmsg", .string(let v)): kmsgPath = v
        case ("sources", "interrupts", .string(let v)): interruptsPath = v
        case ("sources", "sysfs", .string(let v)): sysfsRoot = v
        case ("sources", "boot_id", .string(let v)): bootIDPath = v
        case ("sources", "cmdline", .string(let v)): cmdlinePath = v
        case ("sources", "osrelease", .string(let v)): osReleasePath = v
        case ("estimate", "intel_ratelimit", .string(let v)): intelRatelimit = v
        case ("sources", "accept_user_facility", .bool(let v)): acceptUserFacility = v
        case ("http", "listen", .listen(let v)): listen = v
        case ("http", "web_config", .string(let v)): webConfig = v
        case ("http", "max_connections", .int(let v)): httpMaxConnections = v
        case ("http", "request_timeout", .duration(let v)): httpRequestTimeout = v
        case ("control", "socket", .string(let v)): controlSocket = v
        case ("state", "directory", .string(let v)): stateDirectory = v
        case ("state", "checkpoint_interval", .duration(let v)): checkpointInterval = v
        case ("log", "level", .logLevel(let v)): logLevelSetting = v
        case ("journal", "enabled", .bool(let v)): journalEnabled = v
        case ("storm", "threshold", .int(let v)): stormThreshold = v
        case ("storm", "window", .duration(let v)): stormWindow = v
        case ("storm", "summary_interval", .duration(let v)): stormSummaryInterval = v
        case ("storm", "journal_max_per_second", .int(let v)): journalMaxPerSecond = v
        case ("actions", "on_fault", .strings(let v)): onFault = v
        case ("actions", "on_storm", .strings(let v)): onStorm = v
        case ("actions", "timeout", .duration(let v)): actionTimeout = v
        case ("actions", "max_per_minute", .int(let v)): actionsMaxPerMinute = v
        case ("actions", "max_concurrent", .int(let v)): actionsMaxConcurrent = v
        case ("topology", "rescan_interval", .duration(let v)): rescanInterval = v
        case ("topology", "zero_init_devices", .bool(let v)): zeroInitDevices = v
        case ("topology", "max_devices", .int(let v)): maxDevices = v
        default: break
        }
    }

    /// The effective configuration as TOML (`iommud check-config`); it loads back as the same.
    public func rendered() -> String {
        let q = TOMLSubset.quoted
        func d(_ x: Duration) -> String { q(x.configText) }
        func argv(_ a: [String]) -> String { "[" + a.map(q).joined(separator: ", ") + "]" }
        var s = "# effective configuration" + (file.map { " (from \($0))" } ?? " (built-in defaults)") + "\n"
        s += "[sources]\n"
        s += "kmsg = \(q(kmsgPath))\ninterrupts = \(q(interruptsPath))\nsysfs = \(q(sysfsRoot))\n"
        s += "boot_id = \(q(bootIDPath))\ncmdline = \(q(cmdlinePath))\nosrelease = \(q(osReleasePath))\n"
        s += "accept_user_facility = \(acceptUserFacility)\n"
        s += "\n[http]\nlisten = " + argv(listen.map(\.description)) + "\n"
        s += "web_config = \(q(webConfig))\n"
        s += "max_connections = \(httpMaxConnections)\nrequest_timeout = \(d(httpRequestTimeout))\n"
        s += "\n[control]\nsocket = \(q(controlSocket))\n"
        s += "\n[state]\ndirectory = \(q(stateDirectory))\ncheckpoint_interval = \(d(checkpointInterval))\n"
        s += "\n[journal]\nenabled = \(journalEnabled)\n"
        s += "\n[storm]\nthreshold = \(stormThreshold)\nwindow = \(d(stormWindow))\n"
        s += "summary_interval = \(d(stormSummaryInterval))\njournal_max_per_second = \(journalMaxPerSecond)\n"
        s += "\n[actions]\non_fault = \(argv(onFault))\non_storm = \(argv(onStorm))\n"
        s += "timeout = \(d(actionTimeout))\nmax_per_minute = \(actionsMaxPerMinute)\n"
        s += "max_concurrent = \(actionsMaxConcurrent)\n"
        s += "\n[log]\nlevel = \(q(logLevelSetting.rawValue))\n"
        s += "\n[topology]\nrescan_interval = \(d(rescanInterval))\nzero_init_devices = \(zeroInitDevices)\n"
        s += "max_devices = \(maxDevices)\n"
        s += "\n[estimate]\nintel_ratelimit = \(q(intelRatelimit))\n"
        // Last: the keys after a [[expected]] header belong to its table.
        s += ExpectedRulesConfig.rendered(expectedRules)
        return s
    }
}

/// `[log] level`: swift-log's level names (Configuration+Logging.swift maps them).
public enum ConfigLogLevel: String, Sendable, CaseIterable {
    case trace, debug, info, notice, warning, error, critical
}

/// The range of every number and duration of iommud.toml (durations in µs), documented next to
/// each key in config/iommud.toml: wide enough for any deployment, narrow enough that every
/// value the daemon derives from one — µs counters, timers, token buckets, the storm tracker's
/// window of `threshold` + 1 timestamps per device — is far from overflowing.
public enum ConfigRanges {
    static let ms: Int64 = 1000
    static let second: Int64 = 1_000_000
    static let minute: Int64 = 60 * second
    static let hour: Int64 = 60 * minute
    static let day: Int64 = 24 * hour

    /// [state] checkpoint_interval: 10ms … 1h (tests checkpoint every 50 ms).
    public static let checkpointInterval: ClosedRange<Int64> = (10 * ms)...hour
    /// [storm] threshold: 1 … 10 000 faults (the tracker keeps the last threshold + 1 fault times
    /// of each device it watches).
    public static let stormThreshold: ClosedRange<Int> = 1...10_000
    /// [storm] window: 1s … 1d.
    public static let stormWindow: ClosedRange<Int64> = second...day
    /// [storm] summary_interval: 1s … 1d.
    public static let stormSummaryInterval: ClosedRange<Int64> = second...day
    /// [storm] journal_max_per_second: 1 … 10 000 entries.
    public static let journalMaxPerSecond: ClosedRange<Int> = 1...10_000
    /// [topology] rescan_interval: 10s … 1d.
    public static let rescanInterval: ClosedRange<Int64> = (10 * second)...day
    /// [actions] timeout: 1s … 1h.
    public static let actionTimeout: ClosedRange<Int64> = second...hour
    /// [actions] max_per_minute: 1 … 600 commands.
    public static let actionsMaxPerMinute: ClosedRange<Int> = 1...600
    /// [actions] max_concurrent: 1 … 64 commands.
    public static let actionsMaxConcurrent: ClosedRange<Int> = 1...64
    /// [topology] max_devices: 1 … 65 536 devices with series of their own (at ~0.5 KB a device
    /// in the checkpoint, far below CheckpointStore.sizeLimit even with several series each).
    public static let maxDevices: ClosedRange<Int> = 1...65_536
    /// [http] max_connections: 1 … 65 536 open connections (the daemon lowers it to fit
    /// RLIMIT_NOFILE).
    public static let httpMaxConnections: ClosedRange<Int> = 1...65_536
    /// [[expected]] boot_window: each end 0s … 365d after boot.
    public static let expectedBootWindow: ClosedRange<Int64> = 0...(365 * day)
    /// [http] request_timeout: 100ms … 10m.
    public static let httpRequestTimeout: ClosedRange<Int64> = (100 * ms)...(10 * minute)
}
