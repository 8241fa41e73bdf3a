#!/usr/bin/env python3
"""Writes a link order file: the functions a running program executes, in the order they first
run, so that the linker packs them together (scripts/layout/README.md).

  gen-order.py iommud   BIN MAP OUT    (make order)
  gen-order.py nio-bare BIN MAP OUT    (bench/run.sh: the baseline gets the same treatment)

BIN is a release build linked with `-Map=MAP --no-demangle` (symbol names do not depend on the
layout, so any order file may have been used). iommud runs under functrace.so through what it
does on a node: start, read the kernel log, serve scrapes and `iommud status`, reload, write its
checkpoint and stop — with /dev/kmsg (when readable), with an empty kmsg file, and with a kmsg
file of faults of every vendor among ordinary noise, in that order: what every node runs comes
first, what faults add comes after it. nio-bare serves three scrapes.

A function is left out when the input section holding it is large (> 16 KiB) and mostly cold
(< 25 % of its bytes ran): the prebuilt Swift runtime archives
were not compiled one function per section, and moving such a section to the front would pull
all its cold code into the hot pages.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from bench import Server, daemon_config, free_port  # noqa: E402  (the bench's process helpers)


def compiler():
    for cc in ("cc", "gcc", "clang"):
        if shutil.which(cc):
            return cc
    swift = shutil.which("swift")
    if swift:
        clang = os.path.join(os.path.dirname(os.path.realpath(swift)), "clang")
        if os.path.exists(clang):
            return clang
    sys.exit("gen-order: no C compiler (cc, gcc, clang or the Swift toolchain's clang)")


def functions(binary):
    """{name: (hex offset, size)} of every sized function in the symbol table (the first of a name)."""
    out = subprocess.run(["readelf", "-sW", binary], capture_output=True, text=True, check=True).stdout
    table = {}
    for line in out.splitlines():
        p = line.split()
        if len(p) < 8 or p[3] != "FUNC" or p[6] == "UND" or p[7] in table:
            continue
        size = int(p[2], 0) if p[2].startswith("0x") else int(p[2])
        if size:
            table[p[7]] = (p[1], size)
    return table


def functions_ran(path):
    """The list functrace wrote: one function per line, in the order of their first call."""
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def session(binary, env, work, name, kmsg):
    """One daemon lifetime under the tracer; returns the functions it ran, in order."""
    d = os.path.join(work, name)
    port = free_port()
    cfg = daemon_config(d, port, {"kmsg": kmsg}, journal=os.path.exists("/run/systemd/journal/socket"),
                        checkpoint_interval="1s")
    out = os.path.join(d, "functions.txt")
    s = Server(name, [binary, "run", "--config", cfg, "--foreground"], port, d + "/daemon.log",
               env=dict(env, FUNCTRACE_OUT=out))
    try:
        s.wait_http(60)
        time.sleep(2)  # the log is read, the first checkpoint written
        for _ in range(3):
            s.get()
        subprocess.run([binary, "status", "--config", cfg], stdout=subprocess.DEVNULL, check=True)
        subprocess.run([binary, "status", "--config", cfg, "--json"], stdout=subprocess.DEVNULL, check=True)
        s.proc.send_signal(signal.SIGHUP)
        time.sleep(1.5)
        s.get()
    finally:
        s.stop()  # SIGTERM: the daemon stops cleanly, and functrace writes its list at exit
    return functions_ran(out)


def nio_bare_session(binary, env, work):
    port = free_port()
    out = os.path.join(work, "nio-bare.txt")
    s = Server("nio-bare", [binary, str(port)], port, os.path.join(work, "nio-bare.log"),
               env=dict(env, FUNCTRACE_OUT=out, FUNCTRACE_DUMP_AFTER="4"))
    try:
        s.wait_http()
        for _ in range(2):
            s.get()
        time.sleep(5)  # functrace writes the list 4 s after the start (nio-bare never exits cleanly)
    finally:
        s.stop()
    return functions_ran(out)


def input_sections(map_path):
    """[(size, [symbol, ...])] of each input section in the output .text (lld -Map, --no-demangle)."""
    sections, current, in_text = [], None, False
    with open(map_path) as f:
        for line in f:
            m = re.match(r"\s*[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+\s(\s*)(.*)$", line)
            if not m:
                continue
            indent, text = len(m.group(2)), m.group(3)
            if indent == 0:
                in_text = text == ".text"
            elif in_text and indent == 8:
                current = (int(m.group(1), 16), [])
                sections.append(current)
            elif in_text and current is not None:
                current[1].append(text.strip())
    return sections


def leave_out(order, map_path, table):
    """The ordered functions whose input section is large and mostly cold."""
    ran, out = set(order), set()
    for size, symbols in input_sections(map_path):
        hot = [s for s in symbols if s in ran]
        if hot and size > 16384 and sum(table[s][1] for s in hot if s in table) < size // 4:
            out.update(hot)
    return out


def main():
    if len(sys.argv) != 5 or sys.argv[1] not in ("iommud", "nio-bare"):
        sys.exit(__doc__)
    kind, binary, map_path, dest = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3], sys.argv[4]
    with tempfile.TemporaryDirectory(prefix="iommud-order-") as work:
        so = os.path.join(work, "functrace.so")
        subprocess.run([compiler(), "-O2", "-shared", "-fPIC", "-pthread", "-o", so, os.path.join(HERE, "functrace.c"), "-ldl"],
                       check=True)
        table = functions(binary)
        syms = os.path.join(work, "syms.txt")
        with open(syms, "w") as f:
            f.writelines(f"{offset} {name}\n" for name, (offset, _) in table.items())
        n = len(table)
        env = dict(os.environ, LD_PRELOAD=so, FUNCTRACE_SYMS=syms, SWIFT_BACKTRACE="enable=no")
        runs = []
        if kind == "nio-bare":
            runs.append(("scrapes", nio_bare_session(binary, env, work)))
        else:
            kmsg = os.path.join(work, "mixed.kmsg")
            subprocess.run([sys.executable, os.path.join(ROOT, "bench", "gen_kmsg.py"), "mixed", "20000", kmsg],
                           check=True, stdout=subprocess.DEVNULL)
            # What runs on every node comes first (a healthy node: the kernel's own log, no faults),
            # then what a quiet log adds, then what faults add: an idle daemon touches only the front.
            if os.access("/dev/kmsg", os.R_OK):
                runs.append(("/dev/kmsg", session(binary, env, work, "devkmsg", "/dev/kmsg")))
            empty = os.path.join(work, "empty.kmsg")
            open(empty, "w").close()
            runs.append(("empty kmsg file", session(binary, env, work, "empty", empty)))
            runs.append(("kmsg file with faults", session(binary, env, work, "faults", kmsg)))
        order, seen = [], set()
        for name, ran in runs:
            print(f"gen-order: {kind}, {name}: {len(ran)} of {n} functions ran")
            for fn in ran:
                if fn not in seen:
                    seen.add(fn)
                    order.append(fn)
    skip = leave_out(order, map_path, table)
    kept = [fn for fn in order if fn not in skip]
    with open(dest, "w") as f:
        f.write("\n".join(kept) + "\n")
    print(f"gen-order: {len(kept)} functions → {dest} ({len(skip)} left out: large, mostly cold sections)")


if __name__ == "__main__":
    main()
