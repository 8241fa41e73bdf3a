import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The daemon's one event loop thread: HTTP, the control socket, and every timer.
public enum DaemonEventLoop {
    /// One thread is plenty for a scrape every few seconds and a status now and then. It lives as
    /// long as the process (like NIO's singletons): nothing shuts it down but exit.
    public static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
}

/// `Task.sleep`, on the event loop's timer instead of libdispatch's.
///
/// Why: Swift 6.3's `Task.sleep` schedules its wake-up through libdispatch even when the global
/// executor is replaced (Sources/CLinux/quiet_executor.c), and the first dispatch worker thread
/// starts dispatch's workqueue monitor — a 1 s timer that then wakes the process for as long as
/// it runs. NIO's loop waits in epoll on a timerfd: it wakes when the sleep is due, not before.
/// Throws `CancellationError` when the task is cancelled, like `Task.sleep`.
public func quietSleep(for duration: Duration) async throws {
    enum State {
        case waiting
        case scheduled(Scheduled<Void>)
        case cancelled
    }
    let state = NIOLockedValueBox(State.waiting)
    let (seconds, attoseconds) = duration.components
    let delay = TimeAmount.nanoseconds(max(0, seconds * 1_000_000_000 + attoseconds / 1_000_000_000))
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
