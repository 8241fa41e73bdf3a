import CLinux
import IOMMUDaemon

// Before the first task is enqueued: Swift concurrency runs on iommud's own two threads instead
// of libdispatch's pool, whose monitor would wake an idle daemon every second for as long as it
// runs (Sources/CLinux/quiet_executor.c says why and how).
if clinux_quiet_executor_install(2) != 0 {
    // Not fatal: the default executor works, it only wakes more often.
    writeStderr("iommud: could not install the task executor; using the default one\n")
}

/// An async context, so that ArgumentParser's async `main` is the one chosen.
func runCommand() async { await Iommud.main() }
await runCommand()
