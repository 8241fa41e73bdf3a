import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The daemon's event loop: HTTP, the control socket, every timer — and, installed as Swift's
/// global executor, every task. NIO's own singleton group, so there is one pool of threads.
public enum DaemonEventLoop {
    /// NIO's singleton group: it lives as long as the process; nothing shuts it down but exit.
    public static var group: MultiThreadedEventLoopGroup { MultiThreadedEventLoopGroup.singleton }

    /// Makes the event loop Swift concurrency's global executor (in place of libdispatch's pool
    /// and its 1 s monitor timer): NIO's supported way, or where that cannot find the runtime's
    /// hook — a static Swift runtime, as releases are built — the same hook by its address
    /// (GlobalExecutor.swift). Call before the first task is enqueued; one thread is plenty for a
    /// scrape every few seconds and a status now and then.
    public static func installAsGlobalExecutor() -> Bool {
        NIOSingletons.groupLoopCountSuggestion = 1
        if NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor() { return true }
        return StaticRuntimeGlobalExecutor.install()
    }
}

/// `Task.sleep`, on the event loop's timer instead of libdispatch's.
///
/// Why: the daemon's timers must not touch libdispatch: its first worker thread starts
/// dispatch's workqueue monitor — a 1 s timer that then wakes the process for as long as it
/// runs. NIO's loop waits in epoll on a timerfd: it wakes when the sleep is due, not before.
/// Throws `CancellationError` when the task is cancelled, like `Task.sleep`.
public func quietSleep(for duration: Duration) async throws {
    enum State {
        case waiting
        case scheduled(Scheduled<Void>)
        case cancelled
    }
    let state = NIOLockedValueBox(State.waiting)
    let (seconds, attoseconds) = duration.components
    let (ns, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
    let delay = TimeAmount.nanoseconds(overflow ? .max : max(0, ns &+ attoseconds / 1_000_000_000))
    try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let scheduled = DaemonEventLoop.group.next().scheduleTask(in: delay) {}
            scheduled.futureResult.whenComplete { result in
                switch result {
                case .success: continuation.resume()
                case .failure: continuation.resume(throwing: CancellationError())
                }
            }
            let cancelNow = state.withLockedValue { s -> Bool in
                if case .cancelled = s { return true }
                s = .scheduled(scheduled)
                return false
            }
            if cancelNow { scheduled.cancel() }
        }
    } onCancel: {
        let scheduled = state.withLockedValue { s -> Scheduled<Void>? in
            defer { s = .cancelled }
            if case .scheduled(let scheduled) = s { return scheduled }
            return nil
        }
        scheduled?.cancel()
    }
}
