import CSystemd
import Glibc

/// sd_notify(3) from the main process: READY, STATUS, WATCHDOG, RELOADING, STOPPING. A no-op
/// when NOTIFY_SOCKET is not set (not started by systemd), so tests run without systemd.
public enum SystemdNotify {
    @discardableResult
    public static func send(_ state: String) -> Bool {
        sd_notify(0, state) > 0
    }

    /// The watchdog interval systemd asked for (WATCHDOG_USEC for this pid), if any, at most a
    /// day: pinging more often than asked is harmless, and an absurd value must neither trap
    /// nor make the watchdog's sleep outlast a stop.
    public static func watchdogInterval() -> Duration? {
        var usec: UInt64 = 0
        guard sd_watchdog_enabled(0, &usec) > 0, usec > 0 else { return nil }
        return .microseconds(Int64(clamping: min(usec, maxWatchdogUsec)))
    }

    static let maxWatchdogUsec: UInt64 = 86_400_000_000

    /// Listening sockets passed by systemd (LISTEN_FDS/LISTEN_PID), starting at fd 3.
    public static func listenFDs() -> [Int32] {
        let n = sd_listen_fds(1)
        guard n > 0 else { return [] }
        return (0..<n).map { SD_LISTEN_FDS_START + $0 }
    }
}
