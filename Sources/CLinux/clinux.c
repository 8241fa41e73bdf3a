#include "clinux.h"
#include <malloc.h>

int clinux_eventfd(unsigned int initval, int flags) { return eventfd(initval, flags); }

int clinux_klog_buffer_size(void) { return klogctl(10, 0, 0); }

int clinux_inotify_init(int flags) { return inotify_init1(flags); }

int clinux_inotify_watch(int fd, const char *path, unsigned int mask) { return inotify_add_watch(fd, path, mask); }

int clinux_malloc_trim(void) { return malloc_trim(0); }

int clinux_malloc_arena_max(int n) { return mallopt(M_ARENA_MAX, n); }
