import CLinux
import Glibc
import IOMMUCore

/// Gives back the clean pages of the daemon's own executable that only start-up touched.
///
/// The static binary carries the Swift runtime, swift-nio, BoringSSL and ArgumentParser
/// (Foundation no longer: iommud.toml and the web config are read by IOMMUCore); parsing the command line and the config makes the runtime scan every
/// protocol conformance record in it, which pulls ~14 MB of read-only pages into RSS that the
/// running daemon never reads again. They are clean file pages: MADV_PAGEOUT (Linux 5.4+) lets
/// the kernel drop them, and any page needed later is read back from the page cache. Only pages
/// pagemap shows as the file's own are advised: nothing anonymous or dirty is touched (nothing
/// goes to swap), so this cannot lose data; on older kernels it is a no-op.
enum StartupPages {
    /// Renders one `status` and one `/metrics` and connects once to the control socket, then
    /// releases. The first dynamic cast of each kind makes the runtime scan every conformance
    /// record; those answers are cached, so a warmed-up scrape no longer pulls the released
    /// pages back.
    static func warmUpAndRelease(views: DaemonViews, controlSocket: String) {
        _ = views.status().json()
        _ = views.status().text()
        _ = views.metrics()
        _ = UnixSocket.answers(path: controlSocket)
        // Pages used a moment ago are "young": the kernel clears that bit and keeps them on the
        // first pass, so the second pass is what gives back what start-up alone needed.
        release()
        release()
        // Start-up's own heap garbage goes too: the config, the first scans and the warm-up
        // freed more than glibc gives back by itself (it trims the top only past a threshold
        // that large start-up buffers raise).
        _ = clinux_malloc_trim()
    }

    static let madvPageout: Int32 = 21

    /// Returns the bytes advised.
    ///
    /// Only pages that are in memory and still the file's own (clean page-cache pages, as
    /// /proc/self/pagemap tells) are advised, in runs: relocated pages of `.data.rel.ro` and
    /// anything written are anonymous and stay. That also lets the writable mapping be included:
    /// lld merges the Swift compiler's few writable `.rodata` input sections with all of
    /// `.rodata`, so the whole section lands in the read-write segment (1.4 MB of it was
    /// resident after start-up, never to be read again), though its pages are never written.
    @discardableResult
    static func release() -> Int {
        guard let exe = readLink("/proc/self/exe"), let maps = try? readSmallFile("/proc/self/maps") else { return 0 }
        let pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)
        defer { if pagemap >= 0 { close(pagemap) } }
        let page = UInt(sysconf(Int32(_SC_PAGESIZE)))
        var advised = 0
        for line in maps.split(separator: "\n") {
            // "start-end perms offset dev inode path": private mappings of this binary.
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= 6, String(f[5...].joined(separator: " ")) == exe, f[1].hasPrefix("r") else { continue }
            let range = f[0].split(separator: "-")
            guard range.count == 2, let start = UInt(range[0], radix: 16), let end = UInt(range[1], radix: 16) else {
                continue
            }
            for run in cleanFileRuns(pagemap: pagemap, start: start, end: end, page: page) {
                if clinux_madvise(run.lowerBound, Int(run.count), madvPageout) == 0 {
                    advised += Int(run.count)
                }
            }
        }
        return advised
    }

    /// The address runs of [start, end) whose pages are present and file-backed (pagemap bits
    /// 63 and 61). None when pagemap can not be read: then nothing is advised.
    static func cleanFileRuns(pagemap: Int32, start: UInt, end: UInt, page: UInt) -> [Range<UInt>] {
        guard pagemap >= 0, end > start else { return [] }
        let count = Int((end - start) / page)
        var entries = [UInt64](repeating: 0, count: count)
        let want = count * 8
        let got = pread(pagemap, &entries, want, off_t(start / page * 8))
        guard got == want else { return [] }
        var runs: [Range<UInt>] = []
        var runStart: UInt?
        for (i, e) in entries.enumerated() {
            let address = start + UInt(i) * page
            let clean = e >> 63 & 1 == 1 && e >> 61 & 1 == 1
            if clean, runStart == nil { runStart = address }
            if !clean, let s = runStart {
                runs.append(s..<address)
                runStart = nil
            }
        }
        if let s = runStart { runs.append(s..<end) }
        return runs
    }
}
