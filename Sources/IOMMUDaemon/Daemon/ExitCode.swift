/// The contract's exit codes (ARCHITECTURE.md), sysexits.h where one fits.
public enum ExitCode: Int32, Sendable {
    case success = 0
    /// `status`: no daemon running.
    case noDaemon = 3
    /// EX_UNAVAILABLE: a source (/dev/kmsg, /proc/interrupts) is missing.
    case sourceMissing = 69
    /// EX_IOERR: the state directory is unusable.
    case stateUnusable = 74
    /// EX_NOPERM: no permission to read /dev/kmsg.
    case noPermission = 77
    /// EX_CONFIG: the configuration is invalid.
    case config = 78
}

/// A failure the daemon cannot run past: one sentence naming the cause and the fix, and the
/// exit code of the contract.
public struct DaemonFailure: Error, Sendable, CustomStringConvertible {
    public var exitCode: ExitCode
    public var message: String

    public init(_ exitCode: ExitCode, _ message: String) {
        self.exitCode = exitCode
        self.message = message
    }

    public var description: String { message }
}
