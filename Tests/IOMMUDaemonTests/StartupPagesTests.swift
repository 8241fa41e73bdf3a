import Glibc
import Testing

@testable import IOMMUDaemon

@Suite("Start-up page release")
struct StartupPagesTests {
    @Test("only pages that are present and still the file's own are released: not written ones, not absent ones")
    func cleanFileRuns() throws {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let path = "/tmp/iommud-pages-\(getpid())-\(Int.random(in: 0..<1_000_000))"
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        try #require(fd >= 0)
        defer {
            close(fd)
            unlink(path)
        }
        let bytes = [UInt8](repeating: 7, count: 6 * page)
        #expect(write(fd, bytes, bytes.count) == bytes.count)
        // A private, writable mapping of the file, like the executable's read-write segment.
        let map = try #require(mmap(nil, 6 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0))
        try #require(map != MAP_FAILED)
        defer { munmap(map, 6 * page) }
        let p = map.assumingMemoryBound(to: UInt8.self)
        // Pages 0, 1, 3 and 4 read; page 3 then written (copied: anonymous); 2 and 5 not touched.
        for i in [0, 1, 3, 4] { #expect(p[i * page] == 7) }
        p[3 * page] = 9
        // No fault-around may make 2 and 5 present: drop them from the page tables if it did.
        madvise(map + 2 * page, page, MADV_DONTNEED)
        madvise(map + 5 * page, page, MADV_DONTNEED)
        let pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)
        try #require(pagemap >= 0)
        defer { close(pagemap) }
        let start = UInt(bitPattern: map)
        let runs = StartupPages.cleanFileRuns(
            pagemap: pagemap, start: start, end: start + UInt(6 * page), page: UInt(page))
        #expect(runs == [start..<start + UInt(2 * page), start + UInt(4 * page)..<start + UInt(5 * page)])
        #expect(
            StartupPages.cleanFileRuns(pagemap: -1, start: start, end: start + UInt(page), page: UInt(page)).isEmpty)
    }
}
