#ifndef IOMMUD_CLINUX_H
#define IOMMUD_CLINUX_H
// What Swift's Glibc module does not export.
#include <sys/eventfd.h>
#include <sys/epoll.h>
#include <sys/klog.h>
#include <sys/prctl.h>
#include <sys/inotify.h>
#include <dirent.h>
#include <stddef.h>

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
/// madvise(2) of the pages at an address (given as a number: /proc/self/maps names them so).
int clinux_madvise(unsigned long address, size_t length, int advice);
/// d_name of a readdir(3) entry (a NUL-terminated array inside the struct).
const char *clinux_dirent_name(const struct dirent *entry);
/// socket(2) + connect(2) to the Unix stream socket at `path`, close-on-exec. The fd, or -1 with
/// errno set (ENAMETOOLONG when the path does not fit sun_path).
int clinux_unix_connect(const char *path);
/// sd_journal_sendv(3) of `count` fields laid end to end in `bytes`, the i-th `lengths[i]` long.
/// Its return value: 0 or a negative errno.
int clinux_journal_send_packed(const unsigned char *bytes, const size_t *lengths, int count);
struct sd_journal;
/// sd_pid_get_unit(0): this process's systemd unit, malloc'd (the caller frees it), or NULL.
char *clinux_own_unit(void);
/// sd_id128_get_boot as 32 hex digits and a NUL in `out` (33 bytes). 0, or a negative errno.
int clinux_boot_id(char *out);
/// sd_journal_get_data(3) of `field` in the current entry: its value (after `FIELD=`) copied to
/// `out` as far as it fits. The value's whole length (call again with that much room when it is
/// more than `out_size`), or a negative errno (-ENOENT: no such field).
long clinux_journal_field(struct sd_journal *j, const char *field, unsigned char *out, size_t out_size);
/// Every field of the current entry (sd_journal_enumerate_data(3) from the start), packed into
/// `out` as far as it fits: for each, its length (4 bytes, little-endian) and its `NAME=value`
/// bytes. The packed length (call again with that much room when it is more than `out_size`).
long clinux_journal_entry(struct sd_journal *j, unsigned char *out, size_t out_size);
/// crypt_rn(3) of `phrase` with `setting`, its 32 KiB struct crypt_data on the heap and wiped
/// after; the result is copied into `out` (NUL-terminated). 0, or -1 when libxcrypt refuses the
/// setting or the result does not fit `out`.
int clinux_crypt(const char *phrase, const char *setting, char *out, size_t out_size);
#endif
