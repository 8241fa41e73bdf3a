import CLinux
import IOMMUDaemon

// First, on the only thread: CAP_SYSLOG from the container image's file capability (permitted,
// not effective) becomes effective here and in every thread started later (capabilities.c says why).
_ = clinux_raise_permitted_capabilities()

// Before any other thread exists: one malloc arena for all of them. A handful of threads allocate
// (the task executor's two, the kmsg reader, the event loop); with one arena what one frees is
// reusable by the others, instead of each growing an arena of its own.
_ = clinux_malloc_arena_max(1)

// Before the first task is enqueued: Swift concurrency runs on the daemon's NIO event loop
// instead of libdispatch's pool, whose monitor would wake an idle daemon every second for as
// long as it runs (ARCHITECTURE.md "Idle wake-ups").
if !DaemonEventLoop.installAsGlobalExecutor() {
    // Not fatal: the default executor works, it only wakes more often.
    writeStderr("iommud: could not install the event loop as the task executor; using the default one\n")
}

/// An async context, so that ArgumentParser's async `main` is the one chosen.
func runCommand() async { await Iommud.main() }
await runCommand()
