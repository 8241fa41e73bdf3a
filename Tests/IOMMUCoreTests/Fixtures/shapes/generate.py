#!/usr/bin/env python3
"""generate.py — renders base.kmsg into every log shape `iommud replay` reads (README.md here).

Run as root from anywhere: `python3 Tests/IOMMUCoreTests/Fixtures/shapes/generate.py`. It rewrites
the *.log files and shapes.tsv beside it; commit them. Where a real tool makes a shape on a Debian 12
machine, the tool makes it:

  dmesg-*          util-linux dmesg, reading base.kmsg as /dev/kmsg: a FIFO bound over /dev/kmsg in a
                   private mount namespace, one record per write, `dmesg -w` reading it
  dmesg-S          util-linux `dmesg -F` over the syslog(2) buffer of the same records
  journal-*        systemd-journald (standalone, private /run and /var/log/journal) reading the records
                   from that FIFO as its kernel source, and other programs through its native socket;
                   then `journalctl -o MODE` for every output mode that prints the message

The rest follow documented formats, rendered here: the kernel console with CONFIG_PRINTK_CALLER
(print_time/print_caller, kernel/printk/printk.c), a serial capture of it, rsyslog's file formats
(imklog keeps the kernel's `[ts]` in the message; control characters as `#ooo`), RFC 3164 / 5424,
busybox syslogd. Nothing here is read by the tests: they read the files it wrote.
"""
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
EPOCH = 1796634000  # 2026-12-07 09:00:00 UTC, the boot the rendered wall-clock stamps count from
HOST = "node1"

# Other programs' lines, after the record of the given seq: syslog and journal shapes carry them,
# and none may count. One looks like an Intel fault, one like a SMMUv3 dword inside an event.
OTHERS = [
    (1002, "sshd", 812, 6, 4, "Accepted publickey for admin from 192.0.2.10 port 51234 ssh2"),
    (1004, "myapp", 4242, 3, 1,
     "DMAR: [DMA Write NO_PASID] Request device [00:03.0] fault addr 0x2000 [fault reason 0x05] PTE Write access is not set"),
    (1016, "myapp", 4242, 6, 1, "arm-smmu-v3 arm-smmu-v3.0.auto: \t0x0000000000000000"),
    (1030, "CRON", 901, 6, 9, "(root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)"),
]
# A local user's message under the name `kernel` (logger -t kernel, SYSLOG_IDENTIFIER=kernel): the
# journal marks it (`kernel[pid]:`, _TRANSPORT=journal), a PRI says its facility; plain RFC 3164
# text cannot tell it from the kernel's, so those shapes leave it out.
FORGED = (1035, "kernel", 5150, 3, 1,
          "AMD-Vi: Event logged [IO_PAGE_FAULT device=0000:06:00.0 domain=0x000e address=0xfffffff0 flags=0x0020]")


class Record:
    def __init__(self, line, dictionary):
        head, _, text = line.partition(";")
        fields = head.split(",")
        self.prio, self.seq, self.ts = int(fields[0]), int(fields[1]), int(fields[2])
        self.caller = next((f[len("caller="):] for f in fields[4:] if f.startswith("caller=")), None)
        self.raw = line
        self.dictionary = dictionary
        self.msg = re.sub(rb"\\x([0-9a-f]{2})", lambda m: bytes([int(m.group(1), 16)]), text.encode())

    @property
    def kmsg(self):
        return "".join([self.raw + "\n"] + [d + "\n" for d in self.dictionary]).encode()

    @property
    def lines(self):
        return self.msg.split(b"\n")

    @property
    def stamp(self):
        return f"[{self.ts // 1_000_000:5d}.{self.ts % 1_000_000:06d}]".encode()

    @property
    def wall(self):
        return EPOCH + self.ts // 1_000_000, self.ts % 1_000_000


def read_base():
    records = []
    for line in open(os.path.join(HERE, "base.kmsg"), encoding="utf-8"):
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        if line.startswith(" "):
            records[-1].dictionary.append(line)
        else:
            records.append(Record(line, []))
    return records


def bsd_time(t):
    return time.strftime("%b %e %H:%M:%S", time.gmtime(t)).encode()


def rfc3339(t, usec):
    return (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{usec:06d}+00:00").encode()


def rsyslog_escape(b):
    """rsyslog's $EscapeControlCharactersOnReceive: control characters as #ooo."""
    return b"".join(b"#%03o" % c if c < 0x20 or c == 0x7f else bytes([c]) for c in b)


def others(after, forged=False):
    out = [o for o in OTHERS if o[0] == after]
    if forged and FORGED[0] == after:
        out.append(FORGED)
    return out


# ---------------------------------------------------------------- rendered shapes

def console(records, caller=True):
    """The kernel console / syslog(2): every line of a record gets the prefix (record_print_text)."""
    out = []
    for r in records:
        prefix = r.stamp + (b"[%6s]" % r.caller.encode() if caller and r.caller else b"") + b" "
        out.append([prefix + line + b"\n" for line in r.lines])
    return out


def serial(records):
    """A serial console capture: CR LF, stray bytes and escape sequences before some lines."""
    junk = [b"\x00\x00", b"\xff", b"\x1b[0m", b"\x1b[1;32m\xfe"]
    out = []
    for i, lines in enumerate(console(records)):
        lines = [line.replace(b"\n", b"\r\n") for line in lines]
        if i % 4 == 0:
            lines[0] = junk[(i // 4) % len(junk)] + lines[0]
        out.append(lines)
    return out


def syslog(records, fmt, kern_only, forged=False, kernel_ts=True):
    """rsyslog (imklog keeps the kernel's `[ts]` in the message: kernel_ts) and the other syslogs:
    fmt(record-or-other, tag, message bytes) → line prefix."""
    out = []
    for r in records:
        group = []
        if not kern_only or r.prio >> 3 == 0:
            tag = b"kernel"
            msg_lines = r.lines
            if r.prio >> 3 != 0:  # a userspace record in kmsg: `systemd[1]: …` names its own tag
                t, _, rest = r.msg.partition(b": ")
                tag, msg_lines = t, [rest]
            for line in msg_lines:
                body = (r.stamp + b" " if kernel_ts and tag == b"kernel" else b"") + rsyslog_escape(line)
                group.append(fmt(r.prio, r.wall, tag, None) + body + b"\n")
        for (_, name, pid, level, facility, message) in others(r.seq, forged):
            if kern_only and facility != 0:
                continue
            group.append(fmt((facility << 3) | level, r.wall, name.encode(), pid) + rsyslog_escape(message.encode()) + b"\n")
        out.append(group)
    return out


def traditional(prio, wall, tag, pid):
    return bsd_time(wall[0]) + b" " + HOST.encode() + b" " + tag + (b"[%d]" % pid if pid else b"") + b": "


def rendered_shapes(records):
    t = traditional
    return {
        "console-caller": ("yes", "the kernel console with CONFIG_PRINTK_CALLER: `[ts][  T340] text`",
                           console(records)),
        "serial": ("yes", "a serial console capture: CR LF, stray bytes and escapes before the stamp",
                   serial(records)),
        "kern": ("yes", "rsyslog's kern.log (Debian, Ubuntu): imklog, RSYSLOG_TraditionalFileFormat",
                     syslog(records, t, kern_only=True)),
        "syslog": ("yes", "rsyslog's /var/log/syslog: every facility, other programs' lines between",
                   syslog(records, t, kern_only=False)),
        "messages": ("no", "a syslog fed from /dev/kmsg (imkmsg, journald forwarding): no kernel `[ts]`",
                     syslog(records, t, kern_only=False, kernel_ts=False)),
        "syslog-nohost": ("yes", "RFC 3164 without a host: `Dec  7 09:00:05 kernel: [ts] text`",
                          syslog(records, lambda p, w, tag, pid: bsd_time(w[0]) + b" " + tag
                                 + (b"[%d]" % pid if pid else b"") + b": ", kern_only=False)),
        "syslog-pri": ("yes", "RFC 3164 with its PRI, as a collector keeps it: `<3>Dec  7 … host kernel: …`",
                       syslog(records, lambda p, w, tag, pid: b"<%d>" % p + t(p, w, tag, pid),
                              kern_only=False, forged=True)),
        "rsyslog-iso": ("yes", "rsyslog's RSYSLOG_FileFormat (high precision): RFC 3339 stamps",
                        syslog(records, lambda p, w, tag, pid: rfc3339(*w) + b" " + HOST.encode() + b" " + tag
                               + (b"[%d]" % pid if pid else b"") + b": ", kern_only=False)),
        "rfc5424": ("yes", "RFC 5424 (RSYSLOG_SyslogProtocol23Format): `<3>1 2026-12-07T… node1 kernel - - - …`",
                    syslog(records, lambda p, w, tag, pid: b"<%d>1 " % p + rfc3339(*w) + b" " + HOST.encode()
                           + b" " + tag + b" " + (b"%d" % pid if pid else b"-") + b" - "
                           + (b"[timeQuality tzKnown=\"1\" isSynced=\"1\"] " if pid else b"- "),
                           kern_only=False, forged=True)),
        "busybox": ("yes", "busybox syslogd: `Dec  7 09:00:05 node1 kern.err kernel: [ts] text`",
                    syslog(records, lambda p, w, tag, pid: bsd_time(w[0]) + b" " + HOST.encode() + b" "
                           + ["kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron"][p >> 3].encode()
                           + b"." + ["emerg", "alert", "crit", "err", "warn", "notice", "info", "debug"][p & 7].encode()
                           + b" " + tag + (b"[%d]" % pid if pid else b"") + b": ", kern_only=False)),
        "mail-quote": ("yes", "a mail or forum quote of dmesg: `> ` before each line, its tabs turned to spaces",
                       [[b"> " + line.replace(b"\t", b"    ") for line in g] for g in console(records, caller=False)]),
        "kernel-tag": ("yes", "`kernel: [ts] text` alone (a grep of a syslog, cut after the host)",
                       syslog(records, lambda p, w, tag, pid: tag + (b"[%d]" % pid if pid else b"") + b": ",
                              kern_only=True)),
    }


# ---------------------------------------------------------------- real tools

def in_namespace(argv):
    """Runs this script again in a private mount namespace (root)."""
    subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable, __file__] + argv, check=True)


def bind_fifo_over_kmsg(tmp):
    fifo = os.path.join(tmp, "kmsg.fifo")
    os.mkfifo(fifo)
    subprocess.run(["mount", "--bind", fifo, "/dev/kmsg"], check=True)
    return os.open("/dev/kmsg", os.O_RDWR)  # held open: readers never see an end


def run_dmesg(records, out_dir):
    """Inside the namespace: util-linux dmesg reading the records as /dev/kmsg."""
    with tempfile.TemporaryDirectory() as tmp:
        fd = bind_fifo_over_kmsg(tmp)
        for name, flags in DMESG:
            path = os.path.join(out_dir, name + ".log")
            with open(path, "wb") as out:
                p = subprocess.Popen(["stdbuf", "-o0", "dmesg", "-w", "--nopager"] + flags, stdout=out)
                time.sleep(0.3)
                for r in records:
                    os.write(fd, r.kmsg)  # one record per write(): dmesg reads one per read()
                    time.sleep(0.02)
                time.sleep(0.3)
                p.terminate()
                p.wait()


def run_journald(records, out_dir):
    """Inside the namespace: a journald of its own, the records as its kernel source."""
    for d in ("/run/systemd", "/run/log", "/var/log/journal"):
        os.makedirs(d, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", d], check=True)
    os.makedirs("/run/systemd/journal")
    os.makedirs("/run/log/journal")
    with tempfile.TemporaryDirectory() as tmp:
        conf = os.path.join(tmp, "journald.conf")
        with open(conf, "w") as f:
            f.write("[Journal]\nStorage=volatile\nForwardToSyslog=no\nForwardToKMsg=no\n"
                    "ForwardToConsole=no\nForwardToWall=no\n")
        subprocess.run(["mount", "--bind", conf, "/etc/systemd/journald.conf"], check=True)
        fd = bind_fifo_over_kmsg(tmp)
        env = dict(os.environ, SYSTEMD_LOG_TARGET="console")
        jd = subprocess.Popen(["/lib/systemd/systemd-journald"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        for _ in range(100):
            if os.path.exists("/run/systemd/journal/socket"):
                break
            time.sleep(0.05)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.connect("/run/systemd/journal/socket")
        for r in records:
            os.write(fd, r.kmsg)
            time.sleep(0.03)
            for (_, name, pid, level, facility, message) in others(r.seq, forged=True):
                fields = {"SYSLOG_IDENTIFIER": name, "PRIORITY": str(level), "SYSLOG_FACILITY": str(facility),
                          "SYSLOG_PID": str(pid), "MESSAGE": message}
                sock.send(b"".join(k.encode() + b"=" + v.encode() + b"\n" for k, v in fields.items()))
                time.sleep(0.03)
        time.sleep(0.5)
        journal = "/run/log/journal/" + os.listdir("/run/log/journal")[0]
        for mode in JOURNAL:
            # -o cat prints no origin: other programs' messages would be indistinguishable, so
            # the kernel's only (-k), as one pastes it.
            kernel = ["_TRANSPORT=kernel"] if mode == "cat" else []
            with open(os.path.join(out_dir, "journal-" + mode + ".log"), "wb") as out:
                subprocess.run(["journalctl", "-D", journal, "--no-pager", "-o", mode] + kernel, stdout=out, check=True)
        jd.terminate()
        jd.wait()


DMESG = [
    ("dmesg", []), ("dmesg-t", ["-t"]), ("dmesg-x", ["-x"]), ("dmesg-r", ["-r"]), ("dmesg-T", ["-T"]),
    ("dmesg-H", ["-H"]), ("dmesg-d", ["-d"]), ("dmesg-iso", ["--time-format=iso"]),
    ("dmesg-delta", ["--time-format=delta"]), ("dmesg-x-T", ["-x", "-T"]), ("dmesg-color", ["--color=always"]),
]
DMESG_TS = {"dmesg", "dmesg-x", "dmesg-r", "dmesg-d", "dmesg-color"}
JOURNAL = ["short", "short-full", "short-iso", "short-iso-precise", "short-precise", "short-monotonic",
           "short-unix", "short-delta", "with-unit", "cat", "json", "json-pretty", "json-sse", "json-seq",
           "verbose", "export"]
JOURNAL_TS = {"short-monotonic", "short-delta", "json", "json-pretty", "json-sse", "json-seq", "verbose", "export"}


def split_records(data):
    """A dmesg output, one group of lines per record (further lines are indented)."""
    groups = []
    for line in data.splitlines(keepends=True):
        if line[:1] == b" " and groups:
            groups[-1].append(line)
        else:
            groups.append([line])
    return groups


def main():
    if len(sys.argv) > 2 and sys.argv[1] in ("--dmesg", "--journald"):
        records = read_base()
        (run_dmesg if sys.argv[1] == "--dmesg" else run_journald)(records, sys.argv[2])
        return
    if os.geteuid() != 0:
        sys.exit("generate.py: run as root (a private mount namespace binds a FIFO over /dev/kmsg)")
    records = read_base()
    for f in os.listdir(HERE):
        if f.endswith(".log"):
            os.remove(os.path.join(HERE, f))
    manifest = []
    with open(os.path.join(HERE, "kmsg.log"), "wb") as f:
        f.write(b"".join(r.kmsg for r in records))
    manifest.append(("kmsg", "yes", "the records themselves, as read(2) gives them from /dev/kmsg"))
    in_namespace(["--dmesg", HERE])
    for name, flags in DMESG:
        manifest.append((name, "yes" if name in DMESG_TS else "no",
                         "util-linux dmesg " + " ".join(flags) if flags else "util-linux dmesg"))
    # dmesg -S / -F: the syslog(2) buffer, every line of a record with its own prefix.
    with tempfile.NamedTemporaryFile() as buf:
        buf.write(b"".join(b"<%d>" % r.prio + line for r in records for line in console([r], caller=False)[0]))
        buf.flush()
        with open(os.path.join(HERE, "dmesg-S.log"), "wb") as out:
            subprocess.run(["dmesg", "-F", buf.name], stdout=out, check=True)
    manifest.append(("dmesg-S", "yes", "util-linux dmesg -F over the syslog(2) buffer (as dmesg -S reads it)"))
    in_namespace(["--journald", HERE])
    for mode in JOURNAL:
        manifest.append(("journal-" + mode, "yes" if mode in JOURNAL_TS else "no",
                         "journalctl -o " + mode + (" _TRANSPORT=kernel (as -k)" if mode == "cat" else "")))
    for name, (ts, what, groups) in rendered_shapes(records).items():
        with open(os.path.join(HERE, name + ".log"), "wb") as f:
            f.write(b"".join(b"".join(g) for g in groups))
        manifest.append((name, ts, what))
    # CRLF line ends.
    with open(os.path.join(HERE, "dmesg.log"), "rb") as f:
        crlf = f.read().replace(b"\n", b"\r\n")
    with open(os.path.join(HERE, "dmesg-crlf.log"), "wb") as f:
        f.write(crlf)
    manifest.append(("dmesg-crlf", "yes", "dmesg with CR LF line ends"))
    # A concatenation: raw kmsg, then kern.log, then dmesg -x, then RFC 5424 — cut inside events.
    with open(os.path.join(HERE, "dmesg-x.log"), "rb") as f:
        dmesg_x = split_records(f.read())
    kern = rendered_shapes(records)["kern"][2]
    rfc = rendered_shapes(records)["rfc5424"][2]
    cuts = [0, 12, 21, 33, len(records)]
    parts = [[r.kmsg] for r in records[cuts[0]:cuts[1]]] + kern[cuts[1]:cuts[2]] + dmesg_x[cuts[2]:cuts[3]] \
        + rfc[cuts[3]:cuts[4]]
    with open(os.path.join(HERE, "concat.log"), "wb") as f:
        f.write(b"".join(b"".join(g) for g in parts))
    manifest.append(("concat", "yes", "raw kmsg, then kern.log, then dmesg -x, then RFC 5424, cut inside events"))
    with open(os.path.join(HERE, "shapes.tsv"), "w") as f:
        f.write("# file\ttimestamps\thow it was made (generate.py)\n")
        for name, ts, what in manifest:
            f.write(f"{name}.log\t{ts}\t{what}\n")
    print(f"generate.py: {len(manifest)} shapes in {HERE}")


if __name__ == "__main__":
    main()
