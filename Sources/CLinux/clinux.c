#include "clinux.h"
#include <malloc.h>

int clinux_eventfd(unsigned int initval, int flags) { return eventfd(initval, flags); }

int clinux_klog_buffer_size(void) { return klogctl(10, 0, 0); }

int clinux_inotify_init(int flags) { return inotify_init1(flags); }

int clinux_inotify_watch(int fd, const char *path, unsigned int mask) { return inotify_add_watch(fd, path, mask); }

int clinux_malloc_trim(void) { return malloc_trim(0); }

int clinux_malloc_arena_max(int n) { return mallopt(M_ARENA_MAX, n); }

/* The Swift runtime's global-enqueue hook, set by its address: a static Swift runtime hides its
 * symbols from dlsym (the toolchain links it with --exclude-libs), so NIO's takeover of the
 * global executor cannot find the hook there; the static link still resolves this reference.
 * Called only by Sources/IOMMUDaemon/System/GlobalExecutor.swift, which says why, and only for
 * compilers NIO's own takeover vouches for. The hook's type is the runtime's:
 * swiftcall (Job *, void (*original)(Job *)). */
extern void *swift_task_enqueueGlobal_hook;
extern void iommud_enqueue_global_job(void *job);

__attribute__((swiftcall)) static void clinux_enqueue_global(void *job, void *original) {
    (void)original;
    iommud_enqueue_global_job(job);
}

int clinux_install_enqueue_global_hook(void) {
    if (swift_task_enqueueGlobal_hook != 0) return -1; /* someone else's: leave it */
    swift_task_enqueueGlobal_hook = (void *)clinux_enqueue_global;
    return 0;
}
