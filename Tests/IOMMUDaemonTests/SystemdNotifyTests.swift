import Glibc
import Testing

@testable import IOMMUDaemon

/// WATCHDOG_USEC is the environment's: read without trapping, capped.
@Suite("systemd watchdog interval", .serialized)
struct SystemdNotifyTests {
    @Test("an absurd WATCHDOG_USEC is capped at a day; 30 s is 30 s; none is none")
    func watchdogUsec() {
        defer {
            unsetenv("WATCHDOG_USEC")
            unsetenv("WATCHDOG_PID")
        }
        setenv("WATCHDOG_PID", String(getpid()), 1)
        setenv("WATCHDOG_USEC", "18446744073709551614", 1)
        #expect(SystemdNotify.watchdogInterval() == .seconds(86_400))
        setenv("WATCHDOG_USEC", "9223372036854775807", 1)
        #expect(SystemdNotify.watchdogInterval() == .seconds(86_400))
        setenv("WATCHDOG_USEC", "30000000", 1)
        #expect(SystemdNotify.watchdogInterval() == .seconds(30))
        unsetenv("WATCHDOG_USEC")
        #expect(SystemdNotify.watchdogInterval() == nil)
    }
}

/// A journal entry's time as `iommud log` prints it, at any Int64 (the field is read back).
@Suite("iommud log times")
struct JournalLogTimeTests {
    @Test("microsecond times print at both ends of Int64 without trapping; negative ones floor")
    func isoMicros() {
        #expect(JournalLog.isoMicros(1_796_659_006_023_947).hasSuffix(".023947Z"))
        #expect(JournalLog.isoMicros(-1).hasSuffix(".999999Z"))
        _ = JournalLog.isoMicros(.min)
        _ = JournalLog.isoMicros(.max)
    }
}
