// Unsafe pointers here: the runtime hands the enqueue hook each job as a raw pointer.

import CLinux
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Why this exists: an idle daemon must not wake (IdleTests). Swift concurrency's default
/// global executor is libdispatch's pool, whose workqueue monitor wakes the process every
/// second once a worker thread ran. NIO can take its event loop in as the global executor, but
/// it finds the runtime's `swift_task_enqueueGlobal_hook` with dlsym — and a release binary links
/// the Swift runtime statically, where the toolchain hides the runtime's symbols from dlsym
/// (`--exclude-libs`). So, only when NIO's way failed, the same hook is set by the address the
/// static link resolved (`clinux_install_enqueue_global_hook`, a few lines of C), to enqueue
/// every job on NIO's singleton event loop through its public `SerialExecutor`. Fenced like
/// NIO's own takeover: the hook's type is the runtime's, not an API, so a compiler NIO has not
/// vouched for gets the default executor (the daemon works, it only wakes more). Jobs wait in
/// a queue by task priority (FIFO within one), and the loop runs the highest first, a few per
/// turn of the loop so its I/O is never kept waiting.
enum StaticRuntimeGlobalExecutor {
    static func install() -> Bool {
        #if compiler(<6.6)
            _ = loop  // made before the first job comes
            return clinux_install_enqueue_global_hook() == 0
        #else
            return false
        #endif
    }

    /// NIO's singleton group has one loop (`groupLoopCountSuggestion = 1`, set first).
    static let loop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next()

    static let waiting = NIOLockedValueBox((jobs: PriorityQueue<UnownedJob>(), drainScheduled: false))

    /// Jobs run per turn of the loop at most, before its I/O gets a look again.
    static let jobsPerTurn = 16

    static func enqueue(_ job: UnownedJob) {
        let schedule = waiting.withLockedValue { w in
            w.jobs.push(job, priority: job.priority.rawValue)
            defer { w.drainScheduled = true }
            return !w.drainScheduled
        }
        if schedule { loop.execute(drain) }
    }

    static func drain() {
        let executor = loop.executor.asUnownedSerialExecutor()
        for _ in 0..<jobsPerTurn {
            guard let job = waiting.withLockedValue({ $0.jobs.pop() }) else { break }
            job.runSynchronously(on: executor)
        }
        let more = waiting.withLockedValue { w in
            w.drainScheduled = !w.jobs.isEmpty
            return w.drainScheduled
        }
        if more { loop.execute(drain) }
    }
}

/// The hook's target (called from C with the runtime's job pointer): the job waits for the loop.
@_cdecl("iommud_enqueue_global_job")
func enqueueGlobalJob(_ job: UnsafeMutableRawPointer) {
    StaticRuntimeGlobalExecutor.enqueue(unsafeBitCast(job, to: UnownedJob.self))
}

/// Items by priority, highest first, first in first out within a priority.
struct PriorityQueue<Item>: Sendable where Item: Sendable {
    /// Sorted: priority descending, then arrival.
    private var items: [(priority: UInt8, seq: UInt64, item: Item)] = []
    private var head = 0
    private var nextSeq: UInt64 = 0

    var isEmpty: Bool { head == items.count }

    mutating func push(_ item: Item, priority: UInt8) {
        nextSeq &+= 1
        // After every item of the same or a higher priority (few items wait: a linear look).
        var i = items.count
        while i > head && items[i - 1].priority < priority { i -= 1 }
        items.insert((priority, nextSeq, item), at: i)
    }

    mutating func pop() -> Item? {
        guard head < items.count else { return nil }
        let item = items[head].item
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        }
        return item
    }
}
