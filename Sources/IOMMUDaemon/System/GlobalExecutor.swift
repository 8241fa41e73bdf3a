// Unsafe pointers here: the runtime hands the enqueue hook each job as a raw pointer.

import CLinux
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
/// vouched for gets the default executor (the daemon works, it only wakes more). Jobs run in
/// FIFO order on one thread, as with NIO's takeover: task priorities are not honoured, which
/// the daemon does not need (a handful of tasks, none latency-critical against another).
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
}

/// The hook's target (called from C with the runtime's job pointer): the job goes to the loop.
@_cdecl("iommud_enqueue_global_job")
func enqueueGlobalJob(_ job: UnsafeMutableRawPointer) {
    StaticRuntimeGlobalExecutor.loop.executor.enqueue(ExecutorJob(unsafeBitCast(job, to: UnownedJob.self)))
}
