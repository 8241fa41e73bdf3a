// Raising the permitted capabilities into the effective set, for the container image.
//
// The image gives /usr/bin/iommud the file capability cap_syslog=p (permitted, not effective):
// a non-root process keeps a capability across execve(2) only through file capabilities or the
// ambient set, and Kubernetes' runtimes (containerd, CRI-O) set no ambient capabilities, so
// `capabilities: {add: [SYSLOG]}` alone leaves a uid-65532 daemon without CAP_SYSLOG and
// /dev/kmsg unreadable under kernel.dmesg_restrict=1. Without the effective bit the kernel
// still starts the binary when the bounding set lacks CAP_SYSLOG (`podman run` without
// --cap-add: the daemon then exits 77 with its own sentence, instead of execve failing
// with EPERM) — so the program raises what it was permitted itself, here, on the main thread
// before any other thread exists (capabilities are per thread and inherited by new threads).
// Under systemd (AmbientCapabilities=CAP_SYSLOG) and for root this changes nothing: their
// effective set already equals the permitted one.
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "clinux.h"

int clinux_raise_permitted_capabilities(void) {
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    if (syscall(SYS_capget, &header, data) != 0) return -1;
    int changed = 0;
    for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
        if (data[i].effective != data[i].permitted) changed = 1;
        data[i].effective = data[i].permitted;
    }
    if (!changed) return 0;
    return syscall(SYS_capset, &header, data) == 0 ? 0 : -1;
}
