import CLinux
import IOMMUDaemon

// Before any other thread exists: one malloc arena for all of them. A handful of threads allocate
// (the task executor's two, the kmsg reader, the event loop); with one arena what one frees is
// reusable by the others, instead of each growing an arena of its own.
_ = clinux_malloc_arena_max(1)
// Blocks of 1 MiB and more — a large scrape's body, a big checkpoint being encoded — are mapped
// on their own and unmapped when freed, instead of leaving holes in the heap that outlive the
// burst (glibc would otherwise raise this threshold to the largest block freed, up to 32 MiB).
// Measured after 1 M faults over 1 000 devices: 0.6 MB less growth. Lower (256 KiB) caught the
// record batches too and cost a third more CPU in mmap/munmap.
_ = clinux_malloc_mmap_threshold(1024 * 1024)

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
