#ifndef IOMMUD_CLINUX_H
#define IOMMUD_CLINUX_H
// What Swift's Glibc module does not export.
#include <sys/eventfd.h>
#include <sys/epoll.h>
#include <sys/klog.h>
#include <sys/prctl.h>
#include <sys/inotify.h>

/// eventfd(2) — used to wake the kmsg reader thread for shutdown.
int clinux_eventfd(unsigned int initval, int flags);
/// inotify_init1(2) / inotify_add_watch(2) — to follow a regular file used as a kmsg source.
int clinux_inotify_init(int flags);
int clinux_inotify_watch(int fd, const char *path, unsigned int mask);
/// malloc_trim(3): hand freed heap pages back to the kernel after a burst.
int clinux_malloc_trim(void);
/// mallopt(M_ARENA_MAX, n): few threads allocate here; one arena keeps freed memory reusable.
int clinux_malloc_arena_max(int n);
/// klogctl(10, NULL, 0): the size of the kernel ring buffer in bytes.
int clinux_klog_buffer_size(void);
/// Makes the effective capabilities equal the permitted ones (capset(2), this thread and the
/// threads it creates later). The container image's file capability is cap_syslog=p: call once,
/// first thing in main. 0 on success or nothing to do, -1 on error (errno set).
int clinux_raise_permitted_capabilities(void);
/// Points the Swift runtime's global-enqueue hook at `iommud_enqueue_global_job` (GlobalExecutor.swift).
/// 0 on success, -1 when another hook is set.
int clinux_install_enqueue_global_hook(void);
#endif
