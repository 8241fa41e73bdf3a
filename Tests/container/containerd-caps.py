#!/usr/bin/env python3
"""containerd-caps.py PROGRAM [ARG...] — exec PROGRAM with the credentials a Kubernetes container
gets from containerd (and CRI-O) for

    securityContext: {runAsUser: 65532, runAsGroup: 4, allowPrivilegeEscalation: false,
                      capabilities: {drop: [ALL], add: [SYSLOG]}}

as runc applies them before its execve: uid 65532, gid 4, no supplementary groups; bounding,
permitted and effective sets {CAP_SYSLOG}; inheritable and ambient empty (Kubernetes sets no
ambient capabilities); no_new_privs. Across that execve a non-root process keeps a capability
only through the program's file capabilities — which is what Tests/container/run.sh checks the
image's /usr/bin/iommud has (and that without them it cannot read /dev/kmsg). Run as root.
"""
import ctypes
import os
import sys

libc = ctypes.CDLL(None, use_errno=True)
PR_SET_KEEPCAPS, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 8, 24, 38, 47, 4
CAP_SYSLOG = 34
LINUX_CAPABILITY_VERSION_3 = 0x20080522


class Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def check(rc, what):
    if rc != 0:
        err = ctypes.get_errno()
        raise SystemExit(f"containerd-caps.py: {what}: {os.strerror(err)}")


last_cap = int(open("/proc/sys/kernel/cap_last_cap").read())
for cap in range(last_cap + 1):
    if cap != CAP_SYSLOG:
        check(libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), f"dropping capability {cap} from the bounding set")
check(libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clearing the ambient set")
check(libc.prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0), "PR_SET_KEEPCAPS")
os.setgroups([])
os.setgid(4)
os.setuid(65532)
header = Header(LINUX_CAPABILITY_VERSION_3, 0)
data = (Data * 2)()
data[CAP_SYSLOG // 32].effective = data[CAP_SYSLOG // 32].permitted = 1 << (CAP_SYSLOG % 32)
check(libc.capset(ctypes.byref(header), data), "capset")
check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")
os.execv(sys.argv[1], sys.argv[1:])
