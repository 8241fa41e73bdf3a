import Testing

@testable import IOMMUDaemon

/// The daemon's timers run on the event loop (QuietSleep.swift): they must fire, and a cancelled
/// task must stop waiting at once, as with Task.sleep — shutdown relies on it.
@Suite struct QuietSleepTests {
    @Test func sleepReturnsAfterItsDelay() async throws {
        let clock = ContinuousClock()
        let start = clock.now
        try await quietSleep(for: .milliseconds(30))
        #expect(clock.now - start >= .milliseconds(30))
    }

    @Test func cancellingTheTaskEndsTheSleepWithCancellationError() async throws {
        let sleeper = Task { try await quietSleep(for: .seconds(3600)) }
        try await quietSleep(for: .milliseconds(10))
        sleeper.cancel()
        await #expect(throws: CancellationError.self) { try await sleeper.value }
    }

    @Test func anAlreadyCancelledTaskDoesNotSleep() async throws {
        let sleeper = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await quietSleep(for: .seconds(3600))
        }
        await #expect(throws: CancellationError.self) { try await sleeper.value }
    }
}
