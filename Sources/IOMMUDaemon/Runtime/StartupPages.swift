import Glibc
import IOMMUCore

/// Gives back the clean pages of the daemon's own executable that only start-up touched.
///
/// The static binary carries the Swift runtime, swift-nio, BoringSSL and ArgumentParser
/// (Foundation no longer: iommud.toml and the web config are read by IOMMUCore); parsing the command line and the config makes the runtime scan every
/// protocol conformance record in it, which pulls ~14 MB of read-only pages into RSS that the
/// running daemon never reads again. They are clean file pages: MADV_PAGEOUT (Linux 5.4+) lets
/// the kernel drop them, and any page needed later is read back from the page cache. Nothing
/// anonymous or dirty is touched, so this cannot lose data; on older kernels it is a no-op.
enum StartupPages {
    /// Serves one `status` and one `/metrics` through the daemon's own control socket, then
    /// releases. The first dynamic cast of each kind makes the runtime scan every conformance
    /// record; those answers are cached, so a warmed-up scrape no longer pulls the released
    /// pages back (measured: a first scrape re-touched 3.5 MB of the executable). It doubles as
    /// a self-test of the control socket.
    static func warmUpAndRelease(controlSocket: String) {
        _ = ControlClient.get(path: controlSocket, target: "/status.json", timeoutMs: 2000)
        _ = ControlClient.get(path: controlSocket, target: "/metrics", timeoutMs: 2000)
        // Pages used a moment ago are "young": the kernel clears that bit and keeps them on the
        // first pass, so the second pass is what gives back what start-up alone needed.
        release()
        release()
    }

    static let madvPageout: Int32 = 21

    /// Returns the bytes advised.
    @discardableResult
    static func release() -> Int {
        guard let exe = readLink("/proc/self/exe"), let maps = try? readSmallFile("/proc/self/maps") else { return 0 }
        var advised = 0
        for line in maps.split(separator: "\n") {
            // "start-end perms offset dev inode path": read-only or executable, private, this binary.
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= 6, String(f[5...].joined(separator: " ")) == exe else { continue }
            let perms = f[1]
            guard perms.hasPrefix("r"), !perms.contains("w") else { continue }
            let range = f[0].split(separator: "-")
            guard range.count == 2, let start = UInt(range[0], radix: 16), let end = UInt(range[1], radix: 16) else {
                continue
            }
            if madvise(UnsafeMutableRawPointer(bitPattern: start), Int(end - start), madvPageout) == 0 {
                advised += Int(end - start)
            }
        }
        return advised
    }
}
