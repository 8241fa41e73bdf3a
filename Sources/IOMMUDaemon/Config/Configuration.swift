import IOMMUCore
import Logging

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
    /// Tests only: also count records written from userspace (facility ≠ 0).
    public var acceptUserFacility = false

    // [http]
    public var listen: [ListenAddress] = [ListenAddress(host: "::", port: 10111)]
    /// exporter-toolkit web config (TLS, basic auth); "" = plain HTTP.
    public var webConfig = ""
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
    public var logLevel: Logger.Level = .info

    // [topology]
    /// sysfs is rescanned this often (and, at most once per 10 s, when a fault names a device
    /// it does not know — hotplug).
    public var rescanInterval: Duration = .seconds(300)
    /// Export every device behind an IOMMU from the start, not only those that faulted.
    public var zeroInitDevices = false

    public init() {}

    /// The schema: section → key → type. Unknown sections and keys are errors.
    static let schema: [String: [String: ConfigValueKind]] = [
        "sources": [
            "kmsg": .path, "interrupts": .path, "sysfs": .path, "boot_id": .path, "cmdline": .path,
            "accept_user_facility": .bool,
        ],
        "http": ["listen": .listenArray, "web_config": .optionalPath],
        "control": ["socket": .path],
        "state": ["directory": .path, "checkpoint_interval": .duration],
        "log": ["level": .logLevel],
        "journal": ["enabled": .bool],
        "storm": [
            "threshold": .positiveInt, "window": .duration, "summary_interval": .duration,
            "journal_max_per_second": .positiveInt,
        ],
        "actions": [
            "on_fault": .argv, "on_storm": .argv, "timeout": .duration, "max_per_minute": .positiveInt,
            "max_concurrent": .positiveInt,
        ],
        "topology": ["rescan_interval": .duration, "zero_init_devices": .bool],
    ]

    mutating func apply(section: String, key: String, value: ConfigValue) {
        switch (section, key, value) {
        case ("sources", "kmsg", .string(let v)): kmsgPath = v
        case ("sources", "interrupts", .string(let v)): interruptsPath = v
        case ("sources", "sysfs", .string(let v)): sysfsRoot = v
        case ("sources", "boot_id", .string(let v)): bootIDPath = v
        case ("sources", "cmdline", .string(let v)): cmdlinePath = v
        case ("sources", "accept_user_facility", .bool(let v)): acceptUserFacility = v
        case ("http", "listen", .listen(let v)): listen = v
        case ("http", "web_config", .string(let v)): webConfig = v
        case ("control", "socket", .string(let v)): controlSocket = v
        case ("state", "directory", .string(let v)): stateDirectory = v
        case ("state", "checkpoint_interval", .duration(let v)): checkpointInterval = v
        case ("log", "level", .logLevel(let v)): logLevel = v
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
        default: break
        }
    }

    /// The effective configuration as TOML (`iommud check-config`).
    public func rendered() -> String {
        func q(_ s: String) -> String {
            var out = ""
            // A JSON string is a TOML basic string: the same escapes.
            JSONWriter.appendEscaped(s, to: &out)
            return out
        }
        var s = "# effective configuration" + (file.map { " (from \($0))" } ?? " (built-in defaults)") + "\n"
        s += "[sources]\n"
        s += "kmsg = \(q(kmsgPath))\ninterrupts = \(q(interruptsPath))\nsysfs = \(q(sysfsRoot))\n"
        s += "boot_id = \(q(bootIDPath))\ncmdline = \(q(cmdlinePath))\naccept_user_facility = \(acceptUserFacility)\n"
        s += "\n[http]\nlisten = [" + listen.map { q($0.description) }.joined(separator: ", ") + "]\n"
        s += "web_config = \(q(webConfig))\n"
        s += "\n[control]\nsocket = \(q(controlSocket))\n"
        s += "\n[state]\ndirectory = \(q(stateDirectory))\ncheckpoint_interval = \(q(checkpointInterval.configText))\n"
        s += "\n[journal]\nenabled = \(journalEnabled)\n"
        s += "\n[storm]\nthreshold = \(stormThreshold)\nwindow = \(q(stormWindow.configText))\n"
        s +=
            "summary_interval = \(q(stormSummaryInterval.configText))\njournal_max_per_second = \(journalMaxPerSecond)\n"
        func argv(_ a: [String]) -> String { "[" + a.map(q).joined(separator: ", ") + "]" }
        s += "\n[actions]\non_fault = \(argv(onFault))\non_storm = \(argv(onStorm))\n"
        s += "timeout = \(q(actionTimeout.configText))\nmax_per_minute = \(actionsMaxPerMinute)\n"
        s += "max_concurrent = \(actionsMaxConcurrent)\n"
        s += "\n[log]\nlevel = \(q(logLevel.rawValue))\n"
        s += "\n[topology]\nrescan_interval = \(q(rescanInterval.configText))\nzero_init_devices = \(zeroInitDevices)\n"
        return s
    }
}
