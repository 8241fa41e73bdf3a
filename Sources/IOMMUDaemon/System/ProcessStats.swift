import Glibc
import IOMMUCore

/// The process_* metrics every exporter has, read from /proc/self.
struct ProcessStats: Sendable {
    var residentBytes: Double = 0
    var virtualBytes: Double = 0
    var cpuSeconds: Double = 0
    var openFDs: Double = 0
    var maxFDs: Double = 0
    var startTimeSeconds: Double = 0

    /// The fields of /proc/self/stat after the comm's closing parenthesis (state is the first,
    /// field 3 of the file), when there are all that are read here.
    static func statFields() -> [Substring]? {
        guard let stat = try? readSmallFile("/proc/self/stat"), let close = stat.lastIndex(of: ")") else { return nil }
        let f = stat[stat.index(after: close)...].split(separator: " ")
        return f.count > 22 ? f : nil
    }

    /// The start time, since the epoch: it does not change, so the exporter reads it once.
    static func startTimeSeconds() -> Double {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        guard let f = statFields(), let up = try? readSmallFile("/proc/uptime"),
            let upSec = Double(up.split(separator: " ")[0])
        else { return 0 }
        let now = Double(Clocks.realtimeUsec()) / 1e6
        return (now - upSec + (Double(f[19]) ?? 0) / ticks).rounded()
    }

    /// The figures now; the start time, which does not change, is the caller's.
    static func read(startTimeSeconds: Double) -> ProcessStats {
        var s = ProcessStats()
        s.startTimeSeconds = startTimeSeconds
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let page = Double(sysconf(Int32(_SC_PAGESIZE)))
        if let f = statFields() {
            s.cpuSeconds = ((Double(f[11]) ?? 0) + (Double(f[12]) ?? 0)) / ticks
            s.virtualBytes = Double(f[20]) ?? 0
            s.residentBytes = (Double(f[21]) ?? 0) * page
        }
        s.openFDs = Double(listDirectory("/proc/self/fd").count)
        var lim = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &lim) == 0 { s.maxFDs = Double(lim.rlim_cur) }
        return s
    }
}
