import CLinux
import Dispatch
import Glibc
import IOMMUCore
import Logging
import Synchronization

/// What the reader read in one wake-up, counted (`DaemonCore.ingest`), for the event loop: the
/// journal, storms and actions act on it.
public struct KmsgBatch: Sendable {
    public var commit: KmsgPipeline.Commit
    /// Set on the batch that drained the ring buffer backlog for the first time.
    public var endOfBacklog = false
}

/// Reads /dev/kmsg (or a FIFO or file of kmsg records, for tests) on its own thread, with
/// poll(2) on the fd and an eventfd for shutdown — no busy polling, no timer. Not NIO's pipe
/// channel: it closes on EPIPE and traps on EINVAL (ARCHITECTURE.md). Each wake-up's bytes go
/// to the daemon's pipeline (`DaemonCore.ingest`) on this thread; what it counted goes to the
/// event loop.
///
/// (Unsafe: read(2) fills the raw buffer whose bytes go to framing — the hot path, every record.)
public final class KmsgReader: @unchecked Sendable {
    public let path: String
    let core: DaemonCore
    let logger: Logger
    var fd: Int32 = -1
    var wakeFD: Int32 = -1
    /// For a regular-file source: inotify on it, so appended records are read like new kmsg
    /// records (tests use a file as a ring buffer they fully control).
    var watchFD: Int32 = -1
    var isCharacterDevice = true
    var thread: pthread_t?
    var continuation: AsyncStream<KmsgBatch>.Continuation?

    /// Reads per batch before counting even if more are readable (keeps latency bounded in a storm).
    static let batchLimit = 2048
    /// Counted batches handed to the event loop and not handled yet (journal, actions). At this
    /// many the reader waits for the loop (`batchDone`): faults read faster than they can be
    /// journaled must not pile up in memory. The kernel ring buffer is the queue that may
    /// overflow; its overruns are counted as lost records.
    static let batchesInFlight: UInt32 = 4
    /// Made at 0 and raised to `batchesInFlight`: libdispatch traps when a semaphore is freed
    /// below the value it was made with, and batches may be in flight when the reader goes.
    let slots: DispatchSemaphore = {
        let s = DispatchSemaphore(value: 0)
        for _ in 0..<KmsgReader.batchesInFlight { s.signal() }
        return s
    }()
    let stopping = Atomic<Bool>(false)
    /// Records are < 8 KiB (CONSOLE_EXT_LOG_MAX); a smaller buffer makes read() fail with EINVAL.
    static let bufferSize = 16 * 1024

    init(path: String, core: DaemonCore, logger: Logger) {
        self.path = path
        self.core = core
        self.logger = logger
    }

    /// Opens the source. Fails with the contract's exit code and a sentence saying what to do.
    public func open() throws(DaemonFailure) {
        let f = Glibc.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        if f < 0 {
            let e = errno
            switch e {
            case EPERM, EACCES:
                throw DaemonFailure(.noPermission, Self.permissionAdvice(path: path, errno: e))
            case ENOENT, ENODEV, ENXIO:
                throw DaemonFailure(
                    .sourceMissing,
                    "\(path) does not exist: this kernel has no /dev/kmsg (CONFIG_PRINTK, Linux ≥ 3.5 needed) or the path in [sources] kmsg is wrong."
                )
            default:
                throw DaemonFailure(.sourceMissing, "cannot open \(path): \(String(cString: strerror(e))).")
            }
        }
        var st = stat()
        if fstat(f, &st) == 0 {
            isCharacterDevice = (st.st_mode & S_IFMT) == S_IFCHR
            if (st.st_mode & S_IFMT) == S_IFREG {
                watchFD = clinux_inotify_init(Int32(IN_NONBLOCK | IN_CLOEXEC))
                if watchFD >= 0 { _ = clinux_inotify_watch(watchFD, path, UInt32(IN_MODIFY)) }
            }
            if (st.st_mode & S_IFMT) == S_IFIFO {
                // Keep a FIFO open for writing too, so the last writer closing is not EOF.
                let rw = Glibc.open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)
                if rw >= 0 {
                    close(f)
                    fd = rw
                    return
                }
            }
        }
        fd = f
    }

    static func permissionAdvice(path: String, errno e: Int32) -> String {
        let devkmsg = (try? readSmallFile("/proc/sys/kernel/printk_devkmsg"))?.trimmingCharacters() ?? ""
        let restrict = (try? readSmallFile("/proc/sys/kernel/dmesg_restrict"))?.trimmingCharacters() ?? ""
        if devkmsg == "off" {
            return
                "cannot read \(path): the kernel refuses every open because printk.devkmsg=off (sysctl kernel.printk_devkmsg=off). Set kernel.printk_devkmsg=ratelimit (or boot without printk.devkmsg=off). iommud does not fall back to syslog(2): it has no sequence numbers, so nothing could be counted exactly once."
        }
        if restrict == "1" {
            return
                "cannot read \(path): kernel.dmesg_restrict=1 and this process lacks CAP_SYSLOG. Run iommud as root or give it CAP_SYSLOG (the shipped unit does: AmbientCapabilities=CAP_SYSLOG)."
        }
        return "cannot read \(path): \(String(cString: strerror(e))). Run iommud as root or with CAP_SYSLOG."
    }

    public func start() -> AsyncStream<KmsgBatch> {
        let (stream, continuation) = AsyncStream<KmsgBatch>.makeStream(bufferingPolicy: .unbounded)
        self.continuation = continuation
        wakeFD = clinux_eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        let box = Unmanaged.passRetained(self)
        var t = pthread_t()
        let rc = pthread_create(
            &t, nil,
            { raw in
                let reader = Unmanaged<KmsgReader>.fromOpaque(raw!).takeRetainedValue()
                reader.run()
                return nil
            }, box.toOpaque())
        if rc != 0 {
            box.release()
            continuation.finish()
        } else {
            thread = t
        }
        return stream
    }

    /// The event loop has folded in one batch: the reader may hand over another.
    public func batchDone() { slots.signal() }

    /// Wakes the thread through the eventfd (or out of waiting for the loop) and waits for it.
    public func stop() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        slots.signal()
        if wakeFD >= 0 {
            var one: UInt64 = 1
            _ = write(wakeFD, &one, 8)
        }
        if let t = thread {
            pthread_join(t, nil)
            thread = nil
        }
        if fd >= 0 { close(fd) }
        if wakeFD >= 0 { close(wakeFD) }
        if watchFD >= 0 { close(watchFD) }
        fd = -1
        wakeFD = -1
        watchFD = -1
    }

    func run() {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.bufferSize, alignment: 16)
        defer { buffer.deallocate() }
        var backlogDone = false
        var atEOF = false
        var fds = [
            pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0),
        ]
        var inotifyBuffer = [UInt8](repeating: 0, count: 4096)
        // One wake-up's bytes: whole records from /dev/kmsg (their ends in `ends`), or a stream.
        var bytes: [UInt8] = []
        var ends: [Int] = []
        while true {
            fds[0].revents = 0
            fds[1].revents = 0
            // At the end of a regular file, wait for it to grow (inotify) instead of its fd,
            // which is always readable.
            fds[0].fd = atEOF ? watchFD : fd
            let rc = poll(&fds, 2, -1)
            if rc < 0 {
                if errno == EINTR { continue }
                logger.error("poll on \(path) failed: \(String(cString: strerror(errno)))")
                break
            }
            if fds[1].revents != 0 { break }
            if atEOF {
                _ = inotifyBuffer.withUnsafeMutableBytes { read(watchFD, $0.baseAddress, $0.count) }
                atEOF = false
            }
            bytes.removeAll(keepingCapacity: true)
            ends.removeAll(keepingCapacity: true)
            var overruns = 0
            var reads = 0
            var drained = false
            var failed = false
            // Bounded in reads (/dev/kmsg: one record each) and in bytes (a file or FIFO gives
            // many records per read): the batch is counted before the next is read.
            readLoop: while reads < Self.batchLimit && bytes.count < Self.batchLimit * 256 {
                let n = read(fd, buffer.baseAddress, buffer.count)
                if n > 0 {
                    reads += 1
                    bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                    if isCharacterDevice { ends.append(bytes.count) }
                    continue
                }
                if n == 0 {
                    // The end of a regular file (a FIFO opened O_RDWR never ends): wait for it
                    // to grow.
                    atEOF = true
                    drained = true
                    break readLoop
                }
                switch errno {
                case EAGAIN:
                    drained = true
                    break readLoop
                case EINTR:
                    continue
                case EPIPE:
                    // The ring buffer overwrote our position; the fd moved to the oldest record.
                    // The seq gap on the next record says exactly how many were lost.
                    overruns += 1
                    continue
                case EINVAL:
                    // A record larger than our buffer (cannot happen with 16 KiB); the kernel
                    // skips it and it shows as a seq gap.
                    continue
                default:
                    logger.error("reading \(path) failed: \(String(cString: strerror(errno)))")
                    failed = true
                    break readLoop
                }
            }
            let isDevice = isCharacterDevice
            let commit = core.ingest { p in
                bytes.withUnsafeBufferPointer { b in
                    if isDevice {
                        var start = 0
                        for end in ends {
                            p.read(record: UnsafeBufferPointer(rebasing: b[start..<end]))
                            start = end
                        }
                    } else {
                        p.read(stream: b, isFinal: false)
                    }
                }
                for _ in 0..<overruns { p.readerOverran() }
                // Drained: the source went quiet, holds for detail lines are over.
                if drained { p.idle() }
            }
            var batch = KmsgBatch(commit: commit)
            if !backlogDone && drained {
                backlogDone = true
                batch.endOfBacklog = true
                core.backlogRead()
            }
            if commit.records > 0 || !commit.outputs.isEmpty || !commit.losses.isEmpty || batch.endOfBacklog {
                slots.wait()
                if stopping.load(ordering: .sequentiallyConsistent) { break }
                continuation?.yield(batch)
            }
            if failed { break }
        }
        continuation?.finish()
    }
}
