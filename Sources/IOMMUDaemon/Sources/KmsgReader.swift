import CLinux
import Glibc
import IOMMUCore
import Logging
import Synchronization

/// What the reader hands the event loop after each wake-up: the records that may be IOMMU
/// messages (everything else was counted and dropped on the reader thread without allocating),
/// and the accounting for all of them.
public struct KmsgBatch: Sendable {
    public var candidates: [KmsgRecord] = []
    /// Records in (resumeAfter, countedThrough]: classified to rebuild a group, not counted.
    public var replayed: [KmsgRecord] = []
    /// Records read and accepted (not skipped as already counted).
    public var records: UInt64 = 0
    public var lastSeq: UInt64?
    public var losses: [LossRange] = []
    /// EPIPE returns: the reader fell behind the ring buffer.
    public var overruns: UInt64 = 0
    /// Lines that are not kmsg records at all.
    public var malformed: UInt64 = 0
    /// Set on the batch that drained the ring buffer backlog for the first time.
    public var endOfBacklog = false
    public var isEmpty: Bool {
        candidates.isEmpty && replayed.isEmpty && records == 0 && losses.isEmpty && overruns == 0 && malformed == 0
            && !endOfBacklog
    }
}

/// Reads /dev/kmsg (or a FIFO or file of kmsg records, for tests) on its own thread, with
/// poll(2) on the fd and an eventfd for shutdown — no busy polling, no timer. Not NIO's pipe
/// channel: it closes on EPIPE and traps on EINVAL (ARCHITECTURE.md).
public final class KmsgReader: @unchecked Sendable {
    public let path: String
    let options: Classifier.Options
    var tracker: KmsgSequenceTracker
    let logger: Logger
    var fd: Int32 = -1
    var wakeFD: Int32 = -1
    /// For a regular-file source: inotify on it, so appended records are read like new kmsg
    /// records (tests use a file as a ring buffer they fully control).
    var watchFD: Int32 = -1
    var isCharacterDevice = true
    var thread: pthread_t?
    var continuation: AsyncStream<KmsgBatch>.Continuation?

    /// Records per batch before yielding even if more are readable (keeps latency bounded in a storm).
    static let batchLimit = 2048
    /// Batches handed to the event loop and not folded in yet. At this many the reader waits for
    /// the loop (`batchDone`): a source read faster than it can be counted — a file, a storm —
    /// must not pile up in memory (an unbounded queue once held ~300 MB of records, and the
    /// heap kept that size afterwards). The kernel ring buffer is the queue that may overflow;
    /// its overruns are counted as lost records.
    static let batchesInFlight: UInt32 = 4
    let slots: UnsafeMutablePointer<sem_t> = {
        let p = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
        sem_init(p, 0, KmsgReader.batchesInFlight)
        return p
    }()
    let stopping = Atomic<Bool>(false)
    /// Records are < 8 KiB (CONSOLE_EXT_LOG_MAX); a smaller buffer makes read() fail with EINVAL.
    static let bufferSize = 16 * 1024

    public init(path: String, tracker: KmsgSequenceTracker, options: Classifier.Options, logger: Logger) {
        self.path = path
        self.tracker = tracker
        self.options = options
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

    deinit {
        sem_destroy(slots)
        slots.deallocate()
    }

    /// The event loop has folded in one batch: the reader may hand over another.
    public func batchDone() { sem_post(slots) }

    /// Wakes the thread through the eventfd (or out of waiting for the loop) and waits for it.
    public func stop() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        sem_post(slots)
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
        var stream = [UInt8]()  // unframed bytes of a FIFO/file source
        var backlogDone = false
        var atEOF = false
        var fds = [
            pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0),
        ]
        var inotifyBuffer = [UInt8](repeating: 0, count: 4096)
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
            var batch = KmsgBatch()
            var reads = 0
            var hitLimit = false
            // Bounded in reads (/dev/kmsg: one record each) and in records (a file or FIFO
            // gives ~150 per 16 KiB read: a batch of 2 048 reads held 300 000 records).
            readLoop: while true {
                if reads >= Self.batchLimit || batch.records >= UInt64(Self.batchLimit) {
                    hitLimit = true
                    break
                }
                let n = read(fd, buffer.baseAddress, buffer.count)
                if n > 0 {
                    reads += 1
                    let bytes = UnsafeBufferPointer(
                        start: buffer.baseAddress!.assumingMemoryBound(to: UInt8.self), count: n)
                    if isCharacterDevice {
                        // /dev/kmsg: exactly one record per read().
                        ingest(bytes, into: &batch)
                    } else {
                        stream.append(contentsOf: bytes)
                        let used = stream.withUnsafeBufferPointer { b in
                            KmsgFraming.forEachRecord(in: b, isFinal: false) {
                                ingest($0, firstLineEnd: $1, into: &batch)
                            }
                        }
                        stream.removeFirst(used)
                    }
                    continue
                }
                if n == 0 {
                    // The end of a regular file (a FIFO opened O_RDWR never ends): frame what is
                    // complete and wait for the file to grow.
                    let used = stream.withUnsafeBufferPointer { b in
                        KmsgFraming.forEachRecord(in: b, isFinal: b.last == 0x0a) {
                            ingest($0, firstLineEnd: $1, into: &batch)
                        }
                    }
                    stream.removeFirst(used)
                    atEOF = true
                    break readLoop
                }
                switch errno {
                case EAGAIN:
                    if !isCharacterDevice && !stream.isEmpty {
                        // Idle on a stream: a record whose dictionary lines have not come yet is
                        // as complete as it will get.
                        stream.withUnsafeBufferPointer { b in
                            _ = KmsgFraming.forEachRecord(in: b, isFinal: true) {
                                ingest($0, firstLineEnd: $1, into: &batch)
                            }
                        }
                        stream.removeAll()
                    }
                    break readLoop
                case EINTR:
                    continue
                case EPIPE:
                    // The ring buffer overwrote our position; the fd moved to the oldest record.
                    // The seq gap on the next record says exactly how many were lost.
                    batch.overruns += 1
                    continue
                case EINVAL:
                    // A record larger than our buffer (cannot happen with 16 KiB); it is skipped by
                    // the kernel and shows as a seq gap.
                    continue
                default:
                    logger.error("reading \(path) failed: \(String(cString: strerror(errno)))")
                    break readLoop
                }
            }
            if !backlogDone && !hitLimit {
                backlogDone = true
                batch.endOfBacklog = true
            }
            if !batch.isEmpty {
                while sem_wait(slots) != 0 && errno == EINTR {}
                if stopping.load(ordering: .sequentiallyConsistent) { break }
                continuation?.yield(batch)
            }
        }
        continuation?.finish()
    }

    /// The hot path, once per record: header, sequence accounting, facility and byte-level
    /// IOMMU check. Only candidates become Strings.
    @inline(__always)
    /// `firstLineEnd`: where the record's first line ends, when the framing found it.
    func ingest(_ bytes: UnsafeBufferPointer<UInt8>, firstLineEnd: Int? = nil, into batch: inout KmsgBatch) {
        guard let layout = KmsgRecordParser.layout(bytes, firstLineEnd: firstLineEnd) else {
            batch.malformed += 1
            return
        }
        switch tracker.observe(layout.seq) {
        case .skip:
            return
        case .replay:
            if Classifier.wants(layout: layout, bytes: bytes, options: options) {
                batch.replayed.append(KmsgRecordParser.record(bytes, layout: layout, previous: batch.replayed.last))
            }
            return
        case .accept(let lost, let after):
            if lost > 0 { batch.losses.append(LossRange(afterSeq: after, beforeSeq: layout.seq, count: lost)) }
        }
        batch.records += 1
        batch.lastSeq = layout.seq
        if Classifier.wants(layout: layout, bytes: bytes, options: options) {
            batch.candidates.append(KmsgRecordParser.record(bytes, layout: layout, previous: batch.candidates.last))
        }
    }
}
