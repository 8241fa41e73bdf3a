#!/usr/bin/env python3
"""The measurements of `make bench` (bench/run.sh builds everything and calls this).

  bench.py --bin IOMMUD --nio-bare NIO_BARE --storm-writer KMSG_STORM --work DIR --out BENCHMARKS.md

Every figure is measured beside its baseline in the same run, repeated where that is cheap,
and reported as median and range: this machine is shared and noisy, single times mean little.
Daemons run from temporary configs under DIR with the journal off, on loopback ports; every
process started here is stopped here. Fault lines written to /dev/kmsg name a PCI segment no
record in the ring buffer mentions, so no other test on this machine sees them as its own.
"""
import argparse
import datetime
import http.client
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# The figures, in the order they run: --only key, what the log says, the Bench method.
FIGURES = [("replay", "replay throughput + idle window", "replay_and_idle"),
           ("latency", "kmsg → metrics latency", "latency"),
           ("storm", "storm", "storm"),
           ("memory", "memory after 1 M faults", "memory_loaded"),
           ("scrape", "scrape", "scrape"),
           ("fleet", "fleet cost", "fleet")]
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def log(*a):
    print("bench:", *a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- processes and /proc


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cpu_seconds(pid):
    """utime + stime of the whole process (all threads, dead ones included), from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def sched_ns(pid):
    """{tid: nanoseconds on CPU} from /proc/PID/task/*/schedstat: finer than the 10 ms ticks of
    /proc/PID/stat, which an idle daemon never reaches."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                out[tid] = int(f.read().split()[0])
        except OSError:
            pass
    return out


def sched_delta_ms(before, after):
    """CPU used between two sched_ns() readings: threads alive at both ends by their difference,
    threads born meanwhile in full (a thread that exited meanwhile takes its last part along:
    a lower bound then, which /proc/PID/stat's ticks bound from above)."""
    return sum(v - before.get(t, 0) for t, v in after.items()) / 1e6


def threads(pid):
    """{tid: (comm, voluntary + nonvoluntary context switches)} — each switch is a wake-up or a preemption."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                comm = f.read().strip()
            v = n = 0
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches"):
                        v = int(line.split()[1])
                    elif line.startswith("nonvoluntary_ctxt_switches"):
                        n = int(line.split()[1])
            out[tid] = (comm, v + n)
        except OSError:
            pass
    return out


def rss_bytes(pid):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE


def run_timed(argv, stdout_path, env=None):
    """(wall seconds, cpu seconds user+sys) of one child. Output goes to a real file: GNU grep
    stops at the first match when its output is /dev/null."""
    t0 = time.perf_counter()
    with open(stdout_path, "wb") as out:
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL, env=env)
        _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode not in (0, 1):
        raise RuntimeError(f"{argv[0]} exited {p.returncode}")
    return wall, ru.ru_utime + ru.ru_stime


class Server:
    """A long-running process on a loopback port; stopped by stop() (SIGTERM, then SIGKILL)."""

    live = []

    def __init__(self, name, argv, port, log_path, env=None):
        self.name = name
        self.port = port
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
        self.pid = self.proc.pid
        Server.live.append(self)
        self.conn = None

    def get(self, path="/metrics", timeout=10):
        """GET over one keep-alive connection (reopened when needed): (status, body bytes)."""
        for attempt in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
                self.conn.request("GET", path)
                r = self.conn.getresponse()
                body = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.close_conn()
                return r.status, body
            except (OSError, http.client.HTTPException):
                self.close_conn()
                if attempt:
                    raise
        raise RuntimeError("unreachable")

    def wait_http(self, seconds=30):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.proc.returncode}; see {self.log.name}")
            try:
                if self.get()[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not answer on port {self.port}")

    def close_conn(self):
        """Closes the keep-alive connection (the next get() opens a new one)."""
        if self.conn:
            self.conn.close()
        self.conn = None

    def stop(self):
        self.close_conn()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        if self in Server.live:
            Server.live.remove(self)


def daemon_config(d, port, sources, journal=False, checkpoint_interval=None):
    """Writes d/iommud.toml (d/state made here) and returns its path: a daemon serving
    127.0.0.1:PORT, its control socket and state under d, [sources] from `sources` (str or bool)."""
    os.makedirs(d + "/state", exist_ok=True)
    value = lambda x: ("true" if x else "false") if isinstance(x, bool) else f'"{x}"'
    interval = f'\ncheckpoint_interval = "{checkpoint_interval}"' if checkpoint_interval else ""
    path = d + "/iommud.toml"
    with open(path, "w") as f:
        f.write("[sources]\n" + "".join(f"{k} = {value(v)}\n" for k, v in sources.items()) + f"""[http]
listen = ["127.0.0.1:{port}"]
[control]
socket = "{d}/control.sock"
[state]
directory = "{d}/state"{interval}
[journal]
enabled = {value(journal)}
""")
    return path


def dmar_read(dev):
    """One Intel read fault of `dev` as a /dev/kmsg record (level 6, so not on the console)."""
    return f"<14>DMAR: [DMA Read NO_PASID] Request device [{dev}] fault addr 0x1000 [fault reason 0x06] PTE Read access is not set\n".encode()


def kmsg_write(rec):
    """One record into /dev/kmsg, on a fresh open (the kernel ratelimits writes per open file)."""
    fd = os.open("/dev/kmsg", os.O_WRONLY)
    os.write(fd, rec)
    os.close(fd)


def metric_values(body, name, label_filter=None):
    """Sum of the samples of `name` (whose label text contains label_filter, if given)."""
    total = 0.0
    found = False
    for line in body.decode().splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        rest = line[len(name):]
        if rest[:1] not in ("{", " "):
            continue
        if label_filter and label_filter not in rest:
            continue
        total += float(rest.rsplit(" ", 1)[1])
        found = True
    return total if found else None


def series_count(body):
    return sum(1 for line in body.decode().splitlines() if line and not line.startswith("#"))


class Bench:
    def __init__(self, args):
        self.a = args
        self.work = args.work
        self.results = {}

    # ------------------------------------------------------------ daemons

    def own_copy(self, path, name):
        """A private copy of an executable for one instance of the idle set. On a node one iommud
        runs; here several run side by side, and identical binaries share page-cache pages, which
        a process cannot give back while another maps them (MADV_PAGEOUT skips shared pages) —
        RSS would then measure the bench's crowd, not the daemon. Every process of the idle set,
        baselines included, gets its own copy, so each is measured as if alone on its machine."""
        d = os.path.join(self.work, "bin")
        os.makedirs(d, exist_ok=True)
        dst = os.path.join(d, name)
        shutil.copy2(path, dst)
        # Written back now: dirty page-cache pages cannot be given back (MADV_PAGEOUT) until they are.
        with open(dst, "rb") as f:
            os.fsync(f.fileno())
        return dst

    def daemon(self, name, kmsg, sysfs="/sys", interrupts="/proc/interrupts", user_facility=False, cmdline="/proc/cmdline",
               binary=None):
        d = os.path.join(self.work, "run", name)
        shutil.rmtree(d, ignore_errors=True)
        port = free_port()
        cfg = daemon_config(d, port, {"kmsg": kmsg, "sysfs": sysfs, "interrupts": interrupts, "cmdline": cmdline,
                                      "accept_user_facility": user_facility})
        s = Server(name, [binary or self.a.bin, "run", "--config", cfg, "--foreground"], port, d + "/daemon.log")
        s.wait_http()
        return s

    def node_exporter(self, name, binary="prometheus-node-exporter"):
        port = free_port()
        d = os.path.join(self.work, "run")
        os.makedirs(d, exist_ok=True)
        s = Server(name, [binary, "--collector.disable-defaults", "--collector.interrupts",
                          f"--web.listen-address=127.0.0.1:{port}"], port, f"{d}/{name}.log")
        s.wait_http()
        return s

    def nio_bare(self, name, binary=None):
        port = free_port()
        d = os.path.join(self.work, "run")
        os.makedirs(d, exist_ok=True)
        s = Server(name, [binary or self.a.nio_bare, str(port)], port, f"{d}/{name}.log")
        s.wait_http()
        return s

    def wait_records(self, s, n, seconds=120):
        """Until the daemon has counted n kmsg records (a file source is read to its end)."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            v = metric_values(s.get()[1], "iommud_kmsg_records_total") or 0
            if v >= n:
                return
            time.sleep(0.1)
        raise RuntimeError(f"{s.name}: only {v} of {n} records after {seconds} s")

    # ------------------------------------------------------------ kmsg

    @staticmethod
    def ring_text():
        fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
        out = []
        try:
            while True:
                try:
                    out.append(os.read(fd, 16384).decode(errors="replace"))
                except BlockingIOError:
                    break
                except BrokenPipeError:
                    continue
        finally:
            os.close(fd)
        return "".join(out)

    def unique_segment(self):
        """A PCI segment no record in the ring buffer mentions (it holds other tests' records)."""
        ring = self.ring_text().lower()
        for _ in range(1000):
            seg = random.randrange(0x1000, 0xfff0)
            if f"{seg:04x}:" not in ring:
                return seg
        raise RuntimeError("no unused PCI segment")

    # ------------------------------------------------------------ figures

    def replay_and_idle(self):
        """Replay throughput (repeated, interleaved with its baselines) while idle daemons and the
        memory baselines sit in their 60 s window — replay runs as separate processes, the idle
        daemons' sources stay silent, so neither disturbs the other's figure."""
        mixed = os.path.join(self.work, "mixed.kmsg")
        # The same records as rsyslog writes them to /var/log/kern.log (gen_kmsg.py syslog).
        kern = os.path.join(self.work, "mixed.kern.log")
        # Idle set: three daemons on silent kmsg files, one on the real /dev/kmsg (other tests on
        # this machine write to it: its wake-ups are reported beside the records it read), and
        # the baselines.
        idle = []
        for i in range(3):
            path = os.path.join(self.work, f"idle{i}.kmsg")
            open(path, "w").close()
            idle.append(self.daemon(f"idle-file-{i}", path, binary=self.own_copy(self.a.bin, f"idle-file-{i}")))
        # The same daemon relinked with its link order file (`make release-ordered`, what `make
        # deb` ships): the layout changes memory only, so its idle RSS is recorded beside.
        if self.a.ordered_bin:
            for i in range(3):
                path = os.path.join(self.work, f"idle-ordered{i}.kmsg")
                open(path, "w").close()
                idle.append(self.daemon(f"idle-ordered-{i}", path,
                                        binary=self.own_copy(self.a.ordered_bin, f"idle-ordered-{i}")))
        devkmsg = self.daemon("idle-devkmsg", "/dev/kmsg", binary=self.own_copy(self.a.bin, "idle-devkmsg"))
        node_exporter = shutil.which("prometheus-node-exporter")
        nes = [self.node_exporter(f"node-exporter-{i}", self.own_copy(node_exporter, f"node-exporter-{i}"))
               for i in range(3)]
        bares = [self.nio_bare(f"nio-bare-{i}", self.own_copy(self.a.nio_bare, f"nio-bare-{i}")) for i in range(3)]
        everyone = idle + [devkmsg] + nes + bares
        for s in everyone:
            s.get()  # one scrape each, as a Prometheus server would do right away
            s.close_conn()
        # Idle is the steady state: the window opens once each daemon's first checkpoint (written
        # checkpoint_interval = 5 s after its backlog was read) and the answers are over.
        time.sleep(7)
        records0 = metric_values(devkmsg.get()[1], "iommud_kmsg_records_total")
        devkmsg.close_conn()
        before = {s.name: (sched_ns(s.pid), cpu_seconds(s.pid), threads(s.pid)) for s in everyone}
        t0 = time.time()

        # Replay: each round runs all four, in a rotating order.
        grep_re = r"DMAR: \[|Event logged \[|;[A-Z_]+ device=|: event 0x[0-9a-f]* received|Unhandled context fault"
        env = dict(os.environ, LC_ALL="C")
        cmds = {
            "iommud replay": [self.a.bin, "replay", "--format", "kmsg", mixed],
            "iommud replay --json": [self.a.bin, "replay", "--format", "kmsg", "--json", mixed],
            "iommud replay kern.log": [self.a.bin, "replay", kern],
            "iommud replay --json kern.log": [self.a.bin, "replay", "--json", kern],
            "python re classifier": [sys.executable, os.path.join(HERE, "baseline_classifier.py"), mixed],
            "grep -cE": ["grep", "-cE", grep_re, mixed],
        }
        # Same answer first: the faults iommud finds are the faults the Python classifier finds.
        with open(os.path.join(self.work, "replay.json"), "w") as f:
            subprocess.run(cmds["iommud replay --json"], stdout=f, stderr=subprocess.DEVNULL, env=env, check=True)
        with open(os.path.join(self.work, "replay.json")) as f:
            iommud_faults = sum(1 for _ in f)
        with open(os.path.join(self.work, "replay-kern.json"), "w") as f:
            subprocess.run(cmds["iommud replay --json kern.log"], stdout=f, stderr=subprocess.DEVNULL, env=env, check=True)
        with open(os.path.join(self.work, "replay-kern.json")) as f:
            kern_faults = sum(1 for _ in f)
        py = subprocess.run(cmds["python re classifier"], capture_output=True, text=True, env=env, check=True).stdout
        py_faults = int(re.search(r"faults (\d+)", py).group(1))
        grep_lines = int(subprocess.run(cmds["grep -cE"], capture_output=True, text=True, env=env).stdout)
        times = {k: [] for k in cmds}
        names = list(cmds)
        # The sub-second commands get three times the rounds of the 18 s Python run: their
        # medians move most with this machine's noise.
        for r in range(3 * self.a.rounds):
            for k in names[r % len(names):] + names[:r % len(names)]:
                if k == "python re classifier" and r % 3 != 0:
                    continue
                times[k].append(run_timed(cmds[k], os.path.join(self.work, "replay.out"), env=env))
        with open(mixed, "rb") as f:
            records = sum(1 for line in f if line[:1] != b" ")
        self.results["replay"] = {
            "records": records, "bytes": os.path.getsize(mixed), "iommud_faults": iommud_faults,
            "kern_bytes": os.path.getsize(kern), "kern_faults": kern_faults,
            "python_faults": py_faults, "grep_lines": grep_lines, "grep_pattern": grep_re,
            "wall": {k: [w for w, _ in v] for k, v in times.items()},
            "cpu": {k: [c for _, c in v] for k, v in times.items()},
        }

        # The rest of the 60 s window, then the idle figures.
        remaining = self.a.idle_seconds - (time.time() - t0)
        if remaining > 0:
            time.sleep(remaining)
        window = time.time() - t0
        after = {s.name: (sched_ns(s.pid), cpu_seconds(s.pid), threads(s.pid)) for s in everyone}
        records1 = metric_values(devkmsg.get()[1], "iommud_kmsg_records_total")
        idle_res = {"window_s": window, "processes": {}}
        for s in everyone:
            b, a = before[s.name], after[s.name]
            per_thread = {}
            for tid, (comm, n) in a[2].items():
                d = n - b[2].get(tid, (comm, 0))[1]
                if d:
                    per_thread[f"{comm}/{tid}"] = d
            idle_res["processes"][s.name] = {
                "cpu_ms": sched_delta_ms(b[0], a[0]), "stat_cpu_ms": (a[1] - b[1]) * 1000,
                "wakeups": sum(per_thread.values()), "per_thread": per_thread,
                "threads": len(a[2]), "rss": rss_bytes(s.pid),
            }
        idle_res["devkmsg_records"] = records1 - records0
        self.results["idle"] = idle_res
        for s in everyone:
            s.stop()

    def latency(self):
        """kmsg → /metrics: write one fault per open of /dev/kmsg, poll /metrics until its
        device shows. Baseline: the same write read back from /dev/kmsg by a plain reader."""
        seg = self.unique_segment()
        s = self.daemon("latency", "/dev/kmsg", user_facility=True)
        time.sleep(0.5)
        n = self.a.latency_samples
        samples = []

        def line(i):
            dev = f"{seg:04x}:{i >> 8:02x}:{(i >> 3) & 0x1f:02x}.{i & 7}"
            return dev, dmar_read(dev)

        try:
            for i in range(n):
                dev, rec = line(i)
                needle = f'device="{dev}"'.encode()
                t0 = time.perf_counter()
                kmsg_write(rec)
                while True:
                    if needle in s.get()[1]:
                        break
                samples.append((time.perf_counter() - t0) * 1000)
                time.sleep(self.a.latency_pace)
            # Baseline: the kernel's own delivery to a blocking reader (no daemon involved).
            base = []
            rfd = os.open("/dev/kmsg", os.O_RDONLY)
            os.lseek(rfd, 0, os.SEEK_END)
            for i in range(n, n + self.a.latency_samples // 5):
                dev, rec = line(i)
                t0 = time.perf_counter()
                kmsg_write(rec)
                while True:
                    try:
                        if dev.encode() in os.read(rfd, 16384):
                            break
                    except BrokenPipeError:
                        continue
                base.append((time.perf_counter() - t0) * 1000)
                time.sleep(self.a.latency_pace)
            os.close(rfd)
            body = s.get()[1]
            seen = sum(1 for i in range(n) if f'device="{line(i)[0]}"'.encode() in body)
            self.results["latency"] = {"samples_ms": samples, "baseline_ms": base, "segment": f"{seg:04x}",
                                       "devices_in_metrics": seen, "series_at_end": series_count(body)}
        finally:
            s.stop()

    def storm(self):
        """One writer on one fd (printk_devkmsg=on, set and restored by run.sh), steps of rising
        rate, 10 s each: the daemon's CPU and whether it lost records — and if it did, that
        iommud_kmsg_lost_records_total equals the seq gaps exactly."""
        seg = self.unique_segment()
        knob = "/proc/sys/kernel/printk_devkmsg"
        with open(knob) as f:
            saved = f.read().strip()
        with open(knob, "w") as f:
            f.write("on\n")
        s = None
        steps = []
        marks = []

        def mark(name):
            """Writes one fault of a marker device and waits until /metrics shows it: every
            record before it has been read (or counted lost) by then."""
            dev = f"{seg:04x}:f0:{len(marks):02x}.0"
            marks.append(name)
            needle = f'device="{dev}"'.encode()
            kmsg_write(dmar_read(dev))
            deadline = time.time() + 60
            while needle not in s.get()[1]:
                if time.time() > deadline:
                    raise RuntimeError(f"storm: marker {dev} never showed")
                time.sleep(0.05)

        try:
            s = self.daemon("storm", "/dev/kmsg", user_facility=True)
            mark("start")  # the ring buffer's backlog (and what wrapped before it) is read
            for k, rate in enumerate(self.a.storm_rates):
                dev = f"{seg:04x}:{k + 1:02x}:00.0"
                b0 = s.get()[1]
                c0, t0 = cpu_seconds(s.pid), time.time()
                per_second = []
                proc = subprocess.Popen([self.a.storm_writer, str(rate), str(self.a.storm_seconds), dev],
                                        stdout=subprocess.PIPE, text=True)
                last_c, last_t = c0, t0
                while proc.poll() is None:
                    time.sleep(1)
                    c, t = cpu_seconds(s.pid), time.time()
                    per_second.append((c - last_c) / (t - last_t))
                    last_c, last_t = c, t
                out = proc.stdout.read()
                written = int(re.search(r"written (\d+)", out).group(1))
                elapsed = float(re.search(r"seconds ([\d.]+)", out).group(1))
                # Let the daemon read what is left (a marker written after the step), then read
                # the counters; the marker's own record is taken out below.
                mark(f"step{k}")
                b1 = s.get()[1]
                c1, t1 = cpu_seconds(s.pid), time.time()

                def delta(name, flt=None):
                    return (metric_values(b1, name, flt) or 0) - (metric_values(b0, name, flt) or 0)

                seen = delta("iommu_faults_total", f'device="{dev}"')
                lost = delta("iommud_kmsg_lost_records_total")
                records = delta("iommud_kmsg_records_total") - 1  # without the marker
                advance = delta("iommud_kmsg_last_seq") - 1
                steps.append({
                    "rate": rate, "written": written, "achieved_rate": written / elapsed, "seen": seen,
                    "writer_missed": written - seen, "lost": lost, "records": records, "seq_advance": advance,
                    "seq_gaps": advance - records, "cpu_cores": (c1 - c0) / (t1 - t0),
                    "cpu_per_second": per_second,
                })
                log(f"storm {rate}/s: {steps[-1]}")
                time.sleep(1)
        finally:
            # Restore the knob even on failure (run.sh restores it too if this process dies).
            with open(knob, "w") as f:
                f.write(saved + "\n")
            if s:
                s.stop()
        self.results["storm"] = {"steps": steps, "segment": f"{seg:04x}", "seconds": self.a.storm_seconds}

    def memory_loaded(self):
        """RSS before and after 1 M faults over 1 000 devices, fed through a kmsg file."""
        src = os.path.join(self.work, "faults-1000.kmsg")
        runs = []
        for i in range(self.a.memory_rounds):
            path = os.path.join(self.work, f"loaded{i}.kmsg")
            open(path, "w").close()
            s = self.daemon(f"loaded-{i}", path, binary=self.own_copy(self.a.bin, f"loaded-{i}"))
            try:
                s.get()
                time.sleep(1)
                idle = rss_bytes(s.pid)
                t0, c0 = time.time(), cpu_seconds(s.pid)
                with open(path, "ab") as out, open(src, "rb") as inp:
                    shutil.copyfileobj(inp, out, 1 << 20)
                self.wait_records(s, 1_000_000, seconds=300)
                t1, c1 = time.time(), cpu_seconds(s.pid)
                # Settled: the daemon's own follow-up to the burst — the checkpoint of everything
                # it counted (checkpoint_interval after the first record) — is written too.
                deadline = time.time() + 30
                while time.time() < deadline:
                    if (metric_values(s.get()[1], "iommud_checkpoint_last_success_timestamp_seconds") or 0) >= t1:
                        break
                    time.sleep(0.25)
                body = s.get()[1]
                faults = metric_values(body, "iommu_faults_total")
                time.sleep(0.5)
                runs.append({"idle_rss": idle, "loaded_rss": rss_bytes(s.pid), "faults": faults,
                             "ingest_s": t1 - t0, "ingest_cpu_s": c1 - c0, "series": series_count(body)})
                log(f"memory run {i}: {runs[-1]}")
            finally:
                s.stop()
        self.results["memory_loaded"] = runs

    def scrape(self):
        """/metrics with 4 096 device series: sequential GET latency beside node_exporter's and
        the bare NIO server's, then wrk for 30 s."""
        path = os.path.join(self.work, "faults-4096.kmsg")
        s = self.daemon("scrape", path)
        ne = self.node_exporter("scrape-node-exporter")
        bare = self.nio_bare("scrape-nio-bare")
        res = {}
        try:
            self.wait_records(s, 8192)
            body = s.get()[1]
            res["series"] = series_count(body)
            res["bytes"] = len(body)
            res["devices"] = len(set(re.findall(rb'iommu_device_storm\{device="([^"]+)"', body)))
            lat = {"iommud": [], "node_exporter": [], "nio-bare": []}
            for _ in range(self.a.scrape_samples):
                for name, srv in (("iommud", s), ("node_exporter", ne), ("nio-bare", bare)):
                    t0 = time.perf_counter()
                    st, _ = srv.get()
                    lat[name].append((time.perf_counter() - t0) * 1000)
                    if st != 200:
                        raise RuntimeError(f"{name} answered {st}")
            res["latency_ms"] = lat
            for srv in (s, ne, bare):
                srv.close_conn()
            c0 = cpu_seconds(s.pid)
            wrk = subprocess.run(["wrk", "-t1", "-c4", f"-d{self.a.wrk_seconds}s", "--latency",
                                  f"http://127.0.0.1:{s.port}/metrics"], capture_output=True, text=True)
            res["wrk_cpu_s"] = cpu_seconds(s.pid) - c0
            res["wrk"] = wrk.stdout
            m = re.search(r"Requests/sec:\s+([\d.]+)", wrk.stdout)
            res["wrk_rps"] = float(m.group(1)) if m else None
            m = re.search(r"(\d+) requests in", wrk.stdout)
            res["wrk_requests"] = int(m.group(1)) if m else None
            m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", wrk.stdout)
            res["wrk_socket_errors"] = sum(map(int, m.groups())) if m else 0
            m = re.search(r"Non-2xx or 3xx responses: (\d+)", wrk.stdout)
            res["wrk_non2xx"] = int(m.group(1)) if m else 0
            m = re.search(r"99%\s+([\d.]+)(us|ms|s)", wrk.stdout)
            if m:
                res["wrk_p99_ms"] = float(m.group(1)) * {"us": 1e-3, "ms": 1, "s": 1000}[m.group(2)]
            res["rss_after"] = rss_bytes(s.pid)
        finally:
            for srv in (s, ne, bare):
                srv.stop()
        self.results["scrape"] = res

    def fleet(self):
        """Series an idle daemon exports on the fake sysfs of a 2-socket Intel server, beside
        node_exporter's interrupts collector on this host."""
        root = os.path.join(self.work, "sysfs-intel-server")
        shutil.rmtree(root, ignore_errors=True)
        subprocess.run([sys.executable, os.path.join(HERE, "fake_sysfs.py"), root], check=True)
        path = os.path.join(self.work, "fleet.kmsg")
        open(path, "w").close()
        s = self.daemon("fleet", path, sysfs=root, interrupts=root + ".interrupts", cmdline=root + ".cmdline")
        ne = self.node_exporter("fleet-node-exporter")
        try:
            body = s.get()[1]
            ne_body = ne.get()[1]
            families = {}
            for line in body.decode().splitlines():
                if line and not line.startswith("#"):
                    fam = re.split(r"[{ ]", line, 1)[0]
                    families[fam] = families.get(fam, 0) + 1
            ne_int = sum(1 for line in ne_body.decode().splitlines() if line.startswith("node_interrupts_total"))
            self.results["fleet"] = {
                "series": series_count(body), "families": families,
                "node_exporter_series": series_count(ne_body), "node_exporter_interrupts_series": ne_int,
                "cpus": os.cpu_count(),
            }
        finally:
            s.stop()
            ne.stop()


# ---------------------------------------------------------------- report


def image_figures(path):
    """Size and make-up of the container image archive (mk/image.mk): the archive, its one layer
    gzip-compressed as a registry stores it, and what the layer holds."""
    import tarfile
    import zlib
    with tarfile.open(path) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))
        layer_name = manifest[0]["Layers"][0]
        layer = outer.extractfile(layer_name).read()
    gz = zlib.compressobj(6, zlib.DEFLATED, 31)
    gz_bytes = len(gz.compress(layer)) + len(gz.flush())
    parts = {"binary": 0, "libraries": 0, "pci.ids": 0, "other": 0}
    import io
    with tarfile.open(fileobj=io.BytesIO(layer)) as t:
        for m in t.getmembers():
            if not m.isfile():
                continue
            n = m.name.lstrip("./")
            key = ("binary" if n == "usr/bin/iommud" else "libraries" if n.startswith(("usr/lib/", "usr/lib64/"))
                   else "pci.ids" if n.endswith("pci.ids") else "other")
            parts[key] += m.size
    return {"archive": os.path.getsize(path), "layer": len(layer), "layer_gz": gz_bytes, "parts": parts}


def med(xs):
    return statistics.median(xs)


def rng(xs, fmt):
    return f"{fmt(min(xs))}–{fmt(max(xs))}"


def pct(xs, p):
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def mb(b):
    return f"{b / 1048576:.1f} MiB"


def verdict(ok):
    return "**pass**" if ok else "**FAIL**"


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // 1024
    swift = subprocess.run(["swift", "--version"], capture_output=True, text=True).stdout.splitlines()
    swift = next((l for l in swift if "Swift version" in l), "?")
    return {"cpu": model, "cores": os.cpu_count(), "mem_mb": mem, "kernel": platform.release(), "swift": swift.strip()}


F3 = lambda x: f"{x:.2f} s"


def replay_rows(rp):
    """The Summary rows of the replay figure."""
    cpu = rp["cpu"]
    iom = med(cpu["iommud replay --json"])
    iom_s = med(cpu["iommud replay"])
    pyc = med(cpu["python re classifier"])
    grp = med(cpu["grep -cE"])
    speed = pyc / iom
    vs_grep = iom / grp
    vs_grep_s = iom_s / grp
    rows = [
        f"| replay 1 M records (CPU s) | `iommud replay` {F3(iom_s)} ({rng(cpu['iommud replay'], F3)}) = {rp['records'] / iom_s / 1000:.0f} k records/s; with `--json` {F3(iom)} ({rng(cpu['iommud replay --json'], F3)}) = {rp['records'] / iom / 1000:.0f} k records/s | Python `re`: {F3(pyc)} ({rng(cpu['python re classifier'], F3)}) | {pyc / iom_s:.1f}×; `--json` {speed:.1f}× faster | ≥ 10× Python and ≥ 1 M records/s (both) | {verdict(speed >= 10 and pyc / iom_s >= 10 and rp['records'] / iom >= 1e6 and rp['records'] / iom_s >= 1e6)} |",
        f"| replay vs grep (CPU s) | `iommud replay` {F3(iom_s)}; with `--json` {F3(iom)} | `grep -cE` prefixes: {F3(grp)} ({rng(cpu['grep -cE'], F3)}) | {vs_grep_s:.2f}×; `--json` {vs_grep:.2f}× grep's time | recorded (grep classifies nothing) | |",
    ]
    if "iommud replay kern.log" in cpu:
        ks = med(cpu["iommud replay kern.log"])
        kj = med(cpu["iommud replay --json kern.log"])
        rows.append(
            f"| replay, the same 1 M records as rsyslog's kern.log (CPU s) | `iommud replay` {F3(ks)} ({rng(cpu['iommud replay kern.log'], F3)}); with `--json` {F3(kj)} ({rng(cpu['iommud replay --json kern.log'], F3)}) = {rp['records'] / kj / 1000:.0f} k records/s, {rp['kern_faults']:,} faults | raw kmsg, same run: {F3(iom_s)}; `--json` {F3(iom)} | {ks / iom_s:.2f}×; `--json` {kj / iom:.2f}× the raw time | ≤ 2× (both), same faults | {verdict(ks <= 2 * iom_s and kj <= 2 * iom and rp['kern_faults'] == rp['iommud_faults'])} |")
    return rows


def replay_section(rp):
    """The Details section of the replay figure, up to the next section."""
    cpu = rp["cpu"]
    wall = rp["wall"]
    out = [
        "### Replay throughput",
        "",
        f"{rp['records']:,} generated records ({rp['bytes'] / 1e6:.0f} MB, bench/gen_kmsg.py: ~10 % of them faults of every vendor and",
        "shape — Intel one-line with its status line, AMD one-line and split header/body, SMMUv3 five-record events,",
        "SMMUv2 — the rest usb, e1000e, audit, EXT4, … noise). Same answer first: iommud found",
        f"{rp['iommud_faults']:,} faults, the Python classifier {rp['python_faults']:,}; grep counts {rp['grep_lines']:,} prefix lines (it classifies nothing).",
    ]
    if "kern_faults" in rp:
        out += [
            f"The same records as rsyslog writes them to /var/log/kern.log ({rp['kern_bytes'] / 1e6:.0f} MB, `gen_kmsg.py syslog`:",
            "`Dec  7 09:00:01 host kernel: [    1.000037] …`, every line of a record with its prefix, tabs as `#011`),",
            f"read with the default `--format auto` (each line's shape decided on its own): {rp['kern_faults']:,} faults.",
        ]
    out += [
        f"{len(cpu['grep -cE'])} rounds of iommud and grep, {len(cpu['python re classifier'])} of Python, interleaved; CPU = user + sys of the process, wall for reference. `LC_ALL=C` for all.",
        "",
        "| command | CPU median | CPU range | wall median | wall range |",
        "|---|---|---|---|---|",
    ]
    for k in cpu:
        out.append(f"| `{k}` | {F3(med(cpu[k]))} | {rng(cpu[k], F3)} | {F3(med(wall[k]))} | {rng(wall[k], F3)} |")
    out += [
        "",
        f"`iommud replay` prints the status summary (the Python classifier prints two counts); `--json` also writes one JSON line per fault ({rp['iommud_faults']:,} lines here).",
        f"grep pattern: `{rp['grep_pattern']}`",
        "",
    ]
    return out


def splice_replay(md, rp, meta):
    """A BENCHMARKS.md with only the replay figure replaced (a `--only replay` rerun when no full
    run's results are at hand): its Summary rows and its Details section; the date line says so."""
    lines = md.split("\n")
    rows = [i for i, l in enumerate(lines) if l.startswith("| replay")]
    start = lines.index("### Replay throughput")
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("### "))
    lines[start:end] = replay_section(rp)
    lines[rows[0]:rows[-1] + 1] = replay_rows(rp)
    for i, l in enumerate(lines):
        if l.startswith("- **Date:**"):
            lines[i] = l.split(" (replay rerun")[0] + f" (replay rerun at {meta['date']}, commit {meta['commit']}, load average {meta['load_before']} before, {meta['load_after']} after)"
    return "\n".join(lines)


def report(res, meta):
    L = []
    w = L.append
    w("# Benchmarks")
    w("")
    w("Written by `make bench` (bench/run.sh) — do not edit by hand. Rerun it to refresh: it builds the release")
    w("binary, generates the data into the git-ignored bench/work/, and measures every figure beside its")
    w("baseline **in the same run**. The machines here are shared and noisy: figures are medians with their")
    w("range over repeated runs, and each is compared with a baseline measured alongside it, never with a")
    w("number from another day. Tests never assert wall-clock time; this file is where speed is tracked.")
    w("")
    m = meta["machine"]
    setup = f" after {meta['setup_s']:.0f} s of setup (builds, data)" if meta.get("setup_s") is not None else ""
    w(f"- **Date:** {meta['date']} · **took** {meta['took_s']:.0f} s{setup}" + (f" ({meta['partial_rerun']})" if meta.get("partial_rerun") else ""))
    w(f"- **Machine:** {m['cpu']}, {m['cores']} cores, {m['mem_mb'] // 1024} GiB, Linux {m['kernel']}; load average {meta['load_before']} before, {meta['load_after']} after")
    w(f"- **Toolchain:** {m['swift']}; iommud `{meta['version']}` built `-c release --static-swift-stdlib`, commit {meta['commit']}")
    w(f"- **Baselines:** {meta['python']}, {meta['grep']}, {meta['node_exporter']}, nio-bare (bench/nio-bare: swift-nio {meta['nio']}, built the same way: same flags and its own link order file), wrk {meta['wrk']}")
    w("")
    w("## Summary")
    w("")
    w("| figure | result (median, range) | baseline, same run | ratio | target | |")
    w("|---|---|---|---|---|---|")

    rp = res["replay"]
    for line in replay_rows(rp):
        w(line)

    lat = res["latency"]
    p99 = pct(lat["samples_ms"], 99)
    bp99 = pct(lat["baseline_ms"], 99)
    w(f"| kmsg → /metrics latency ({len(lat['samples_ms'])} samples) | p50 {pct(lat['samples_ms'], 50):.2f} ms, **p99 {p99:.2f} ms**, max {max(lat['samples_ms']):.1f} ms | kernel delivery to a plain reader: p50 {pct(lat['baseline_ms'], 50):.2f}, p99 {bp99:.2f} ms | p99 {p99 / bp99:.1f}× | p99 ≤ 20 ms | {verdict(p99 <= 20)} |")

    st = res["storm"]["steps"]
    clean = [s for s in st if s["lost"] == 0 and s["writer_missed"] == 0]
    best = max((s["rate"] for s in clean), default=0)
    s10 = next((s for s in st if s["rate"] == 10000), None)
    exact = all(s["lost"] == s["seq_gaps"] and s["lost"] >= s["writer_missed"] for s in st)
    ok10 = s10 is not None and s10["lost"] == 0 and s10["writer_missed"] == 0 and s10["cpu_cores"] < 0.5
    w(f"| storm: highest rate with no loss | {best:,} records/s | – | – | report | |")
    if s10:
        w(f"| storm at 10 k/s: loss, CPU | {s10['lost']:.0f} lost, {s10['cpu_cores']:.2f} core (per second: {rng(s10['cpu_per_second'], lambda x: f'{x:.2f}')}) | – | – | no loss, < 0.5 core | {verdict(ok10)} |")
    w(f"| storm: lost counter = seq gaps | {'exact at every step' if exact else 'NOT exact'} | writer's own records as truth | – | exact | {verdict(exact)} |")

    idle = res["idle"]["processes"]
    files = [v for k, v in idle.items() if k.startswith("idle-file")]
    ordered = [v for k, v in idle.items() if k.startswith("idle-ordered")]
    ne = [v for k, v in idle.items() if k.startswith("node-exporter")]
    bare = [v for k, v in idle.items() if k.startswith("nio-bare")]
    dk = idle["idle-devkmsg"]
    ms = lambda x: f"{x:.2f} ms"
    win = res["idle"]["window_s"]
    per60 = 60 / win  # the window is at least 60 s (it spans the replay figures)
    cpu_of = lambda vs: [v["cpu_ms"] * per60 for v in vs]
    wk_of = lambda vs: [v["wakeups"] * per60 for v in vs]
    cpu_i = med(cpu_of(files))
    wk = med(wk_of(files))
    w(f"| idle, per 60 s: CPU | {ms(cpu_i)} ({rng(cpu_of(files), ms)}) | node_exporter {ms(med(cpu_of(ne)))}, nio-bare {ms(med(cpu_of(bare)))} | – | ≤ 10 ms | {verdict(cpu_i <= 10)} |")
    w(f"| idle, per 60 s: wake-ups | {wk:.0f} ({rng(wk_of(files), lambda x: f'{x:.0f}')}) | node_exporter {med(wk_of(ne)):.0f}, nio-bare {med(wk_of(bare)):.0f} | – | watchdog + rescan only (none here: no systemd, rescan every 5 min) | {verdict(wk < 1)} |")

    rss_i = med([v["rss"] for v in files])
    ne_rss = med([v["rss"] for v in ne])
    bare_rss = med([v["rss"] for v in bare])
    ml = res["memory_loaded"]
    loaded = med([r["loaded_rss"] for r in ml])
    idle_before = med([r["idle_rss"] for r in ml])
    w(f"| memory idle (RSS), plain release build | {mb(rss_i)} ({rng([v['rss'] for v in files], mb)}) | node_exporter {mb(ne_rss)}, nio-bare {mb(bare_rss)} | {rss_i / ne_rss:.2f}× node_exporter; nio-bare {'+' if rss_i >= bare_rss else '−'}{mb(abs(rss_i - bare_rss))} | recorded (what ships is the next row) | |")
    if ordered:
        rss_o = med([v["rss"] for v in ordered])
        w(f"| memory idle (RSS), with the link order file (`make deb`, `make release-ordered image`) | {mb(rss_o)} ({rng([v['rss'] for v in ordered], mb)}) | plain build, same run: {mb(rss_i)} | {'−' if rss_o <= rss_i else '+'}{mb(abs(rss_i - rss_o))} | ≤ node_exporter | {verdict(rss_o <= ne_rss)} |")
    w(f"| memory after 1 M faults / 1 000 devices | {mb(loaded)} ({rng([r['loaded_rss'] for r in ml], mb)}) | idle, same daemon: {mb(idle_before)} | +{mb(loaded - idle_before)} | ≤ idle + 8 MiB | {verdict(loaded - idle_before <= 8 * 1048576)} |")

    sc = res["scrape"]
    sp99 = pct(sc["latency_ms"]["iommud"], 99)
    w(f"| scrape, {sc['devices']} devices ({sc['series']} series, {sc['bytes'] // 1024} KiB) | p50 {pct(sc['latency_ms']['iommud'], 50):.2f} ms, **p99 {sp99:.2f} ms** | node_exporter interrupts p99 {pct(sc['latency_ms']['node_exporter'], 99):.2f} ms; nio-bare p99 {pct(sc['latency_ms']['nio-bare'], 99):.2f} ms | {sp99 / pct(sc['latency_ms']['node_exporter'], 99):.1f}× node_exporter | p99 ≤ 5 ms | {verdict(sp99 <= 5)} |")
    errs = sc["wrk_socket_errors"] + sc["wrk_non2xx"]
    w(f"| wrk {meta['wrk_seconds']} s, 4 connections | {sc['wrk_rps']:.0f} req/s, p99 {sc.get('wrk_p99_ms', float('nan')):.1f} ms, {errs} errors | – | – | no errors | {verdict(errs == 0 and sc['wrk_requests'])} |")

    fl = res["fleet"]
    w(f"| fleet cost: series, idle, 2-socket server (8 units, 194 functions) | {fl['series']} | node_exporter interrupts collector here ({fl['cpus']} CPUs): {fl['node_exporter_interrupts_series']} | {fl['series'] / max(fl['node_exporter_interrupts_series'], 1):.2f}× | ≤ 100 | {verdict(fl['series'] <= 100)} |")
    im = meta.get("image")
    if im:
        w(f"| container image (`make image`) | {mb(im['archive'])} archive; {mb(im['layer_gz'])} gzip-compressed, as a registry stores it | – | – | < 50 MB | {verdict(im['archive'] < 50e6)} |")
    w("")

    w("## Details")
    w("")
    for line in replay_section(rp):
        w(line)
    w("### kmsg → metrics latency")
    w("")
    w(f"Each sample opens /dev/kmsg, writes one Intel fault line (facility 1, level 6) naming a new device of PCI")
    w(f"segment {lat['segment']} (unused in the ring buffer), closes it, and polls /metrics on one keep-alive connection")
    w(f"until the device's series shows; samples are {meta['latency_pace'] * 1000:.0f} ms apart. /metrics grows to {lat['series_at_end']} series")
    w(f"as the devices accumulate (every poll renders all of them). All {lat['devices_in_metrics']} devices were exported.")
    w("")
    w("| | p50 | p90 | p99 | max |")
    w("|---|---|---|---|---|")
    for name, xs in (("iommud: write → /metrics shows it", lat["samples_ms"]), ("baseline: write → read(2) on /dev/kmsg returns it", lat["baseline_ms"])):
        w(f"| {name} ({len(xs)}) | {pct(xs, 50):.2f} ms | {pct(xs, 90):.2f} ms | {pct(xs, 99):.2f} ms | {max(xs):.2f} ms |")
    w("")
    w("### Storm")
    w("")
    w(f"bench/kmsg_storm.c writes fault lines on one fd at a fixed rate for {res['storm']['seconds']} s per step (level 6, one device per")
    w("step, `kernel.printk_devkmsg=on` for the test and restored after). Truth: the writer's own records — those the")
    w("daemon counted (`iommu_faults_total` of the step's device) against those written; and the seq numbers the daemon")
    w("observed (records read vs. the advance of `iommud_kmsg_last_seq`). The host ring buffer is 128 KiB here.")
    w("")
    w("| rate asked | achieved | written | counted | writer's records missed | `lost_records_total` | seq gaps | CPU (core) | CPU per second |")
    w("|---|---|---|---|---|---|---|---|---|")
    for s in st:
        w(f"| {s['rate']:,}/s | {s['achieved_rate']:,.0f}/s | {s['written']:,} | {s['seen']:,.0f} | {s['writer_missed']:,.0f} | {s['lost']:,.0f} | {s['seq_gaps']:,.0f} | {s['cpu_cores']:.2f} | {rng(s['cpu_per_second'], lambda x: f'{x:.2f}') if s['cpu_per_second'] else '-'} |")
    w("")
    w("### Idle and memory")
    w("")
    w(f"Three daemons on silent kmsg files, one on the real /dev/kmsg, three node_exporters (`--collector.disable-defaults")
    w(f"--collector.interrupts`) and three nio-bare servers, all started together and scraped once, then, from 7 s later")
    w(f"(their first checkpoint written), left alone for {win:.0f} s (while the replay figures ran in other processes). CPU from /proc/PID/task/*/schedstat (ns), wake-ups")
    w("= voluntary + involuntary context switches of every thread; RSS at the end of the window. Each process runs")
    w("from its own copy of its executable: copies of one binary share page-cache pages, which a process cannot give")
    w("back while another maps them, so side by side they would measure the crowd, not one process on its node.")
    w("iommud is measured as `make release` builds it (lld, one section per function, no exported symbol table:")
    w("scripts/layout/README.md), and as `make release-ordered` relinks it with a link order file made by tracing it")
    w("while it runs, which packs the code it executes into contiguous pages (what `make deb` ships; idle-ordered-*).")
    w("nio-bare is linked with an order file of its own.")
    w("")
    w("| process | CPU in window | wake-ups | threads | RSS |")
    w("|---|---|---|---|---|")
    for k, v in idle.items():
        where = " (threads that woke: " + ", ".join(f"{t} {n}" for t, n in v["per_thread"].items()) + ")" if v["per_thread"] else ""
        w(f"| {k} | {v['cpu_ms']:.2f} ms | {v['wakeups']}{where} | {v['threads']} | {mb(v['rss'])} |")
    w("")
    w(f"The /dev/kmsg daemon read {res['idle']['devkmsg_records']:.0f} records other processes on this machine logged meanwhile: its wake-ups are theirs.")
    w("")
    w("After 1 M Intel faults over 1 000 devices, appended to a kmsg file the daemon follows; RSS loaded is taken once")
    w("the daemon has settled (its checkpoint of the burst written):")
    w("")
    w("| run | RSS idle | RSS loaded | growth | ingest time | ingest CPU | series |")
    w("|---|---|---|---|---|---|---|")
    for i, r in enumerate(ml):
        w(f"| {i + 1} | {mb(r['idle_rss'])} | {mb(r['loaded_rss'])} | +{mb(r['loaded_rss'] - r['idle_rss'])} | {r['ingest_s']:.1f} s | {r['ingest_cpu_s']:.1f} s | {r['series']} |")
    w("")
    w("### Scrape")
    w("")
    w(f"8 192 faults from 4 096 distinct devices through a kmsg file; then {len(sc['latency_ms']['iommud'])} sequential GETs of each server's")
    w("/metrics on a keep-alive connection, interleaved, then wrk on the daemon.")
    w("")
    w("| server | p50 | p90 | p99 | max |")
    w("|---|---|---|---|---|")
    for k, xs in sc["latency_ms"].items():
        w(f"| {k} | {pct(xs, 50):.2f} ms | {pct(xs, 90):.2f} ms | {pct(xs, 99):.2f} ms | {max(xs):.2f} ms |")
    w("")
    w(f"Daemon CPU during wrk: {sc['wrk_cpu_s']:.1f} s over {meta['wrk_seconds']} s; RSS after: {mb(sc['rss_after'])}.")
    w("")
    w("```")
    w(sc["wrk"].strip())
    w("```")
    w("")
    if im:
        p = im["parts"]
        w("### Container image")
        w("")
        w(f"`make image` (mk/image.mk): one layer, no base image. Uncompressed {mb(im['layer'])}: the stripped binary")
        w(f"{mb(p['binary'])}, the shared libraries it needs and the loader {mb(p['libraries'])}, pci.ids {mb(p['pci.ids'])},")
        w(f"everything else (copyright files, /etc, coreutils' chown for the Kubernetes init container) {mb(p['other'])}.")
        w("")
    w("### Fleet cost")
    w("")
    w("Series of an idle daemon on bench/fake_sysfs.py's copy of the test platform `intelServer` (2 sockets, 8 DMAR units,")
    w("194 PCI functions): " + ", ".join(f"{k} {v}" for k, v in sorted(fl["families"].items())) + ".")
    w(f"node_exporter with only its interrupts collector exports {fl['node_exporter_series']} series on this {fl['cpus']}-CPU machine")
    w(f"({fl['node_exporter_interrupts_series']} of them `node_interrupts_total`; it grows with CPUs × interrupt lines).")
    w("")
    return "\n".join(L) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--nio-bare", required=True)
    ap.add_argument("--ordered-bin", help="the same daemon relinked with its link order file (make release-ordered)")
    ap.add_argument("--storm-writer", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--idle-seconds", type=float, default=60)
    ap.add_argument("--latency-samples", type=int, default=1000)
    ap.add_argument("--latency-pace", type=float, default=0.004)
    ap.add_argument("--storm-rates", type=lambda s: [int(x) for x in s.split(",")], default=[5000, 10000, 20000, 50000])
    ap.add_argument("--storm-seconds", type=float, default=10)
    ap.add_argument("--memory-rounds", type=int, default=3)
    ap.add_argument("--scrape-samples", type=int, default=1000)
    ap.add_argument("--wrk-seconds", type=int, default=30)
    ap.add_argument("--only", default=",".join(key for key, _, _ in FIGURES))
    ap.add_argument("--results", help="write/read the raw results here (JSON)")
    ap.add_argument("--render-only", action="store_true")
    a = ap.parse_args()
    a.work = os.path.abspath(a.work)
    if a.render_only:
        with open(a.results) as f:
            saved = json.load(f)
        with open(a.out, "w") as f:
            f.write(report(saved["results"], saved["meta"]))
        return
    b = Bench(a)
    t0 = time.time()
    meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "load_before": " ".join(open("/proc/loadavg").read().split()[:3]), "machine": machine(),
            "latency_pace": a.latency_pace, "wrk_seconds": a.wrk_seconds,
            "setup_s": float(os.environ["BENCH_SETUP_S"]) if os.environ.get("BENCH_SETUP_S") else None}
    only = a.only.split(",")
    try:
        for key, title, method in FIGURES:
            if key in only:
                log(title)
                getattr(b, method)()
    finally:
        for s in list(Server.live):
            s.stop()
    meta["took_s"] = time.time() - t0
    meta["load_after"] = " ".join(open("/proc/loadavg").read().split()[:3])
    v = lambda argv: subprocess.run(argv, capture_output=True, text=True).stdout.strip().splitlines()[0]
    meta["version"] = v([a.bin, "version"])
    meta["commit"] = v(["git", "-C", HERE, "rev-parse", "--short", "HEAD"])
    meta["python"] = "Python " + platform.python_version()
    meta["grep"] = v(["grep", "--version"])
    ne = subprocess.run(["prometheus-node-exporter", "--version"], capture_output=True, text=True)
    meta["node_exporter"] = "node_exporter " + re.search(r"version ([\d.]+)", ne.stdout + ne.stderr).group(1)
    meta["wrk"] = re.search(r"wrk (\S+)", subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout).group(1)
    meta["nio"] = os.environ.get("BENCH_NIO_VERSION", "?")
    if os.environ.get("BENCH_IMAGE_ARCHIVE") and os.path.exists(os.environ["BENCH_IMAGE_ARCHIVE"]):
        meta["image"] = image_figures(os.environ["BENCH_IMAGE_ARCHIVE"])
    everything = {key for key, _, _ in FIGURES}
    if a.results:
        if not set(only) >= everything and os.path.exists(a.results):
            # A partial rerun (--only) replaces those figures in the last full run's results.
            with open(a.results) as f:
                saved = json.load(f)
            saved["results"].update(b.results)
            saved["meta"]["partial_rerun"] = f"{', '.join(only)} rerun at {meta['date']}"
            b.results, meta = saved["results"], saved["meta"]
            only = list(everything)
        with open(a.results, "w") as f:
            json.dump({"results": b.results, "meta": meta}, f)
    if set(only) >= everything:
        with open(a.out, "w") as f:
            f.write(report(b.results, meta))
        log(f"wrote {a.out}")
    elif "replay" in b.results and os.path.exists(a.out):
        with open(a.out) as f:
            md = f.read()
        with open(a.out, "w") as f:
            f.write(splice_replay(md, b.results["replay"], meta))
        log(f"replaced the replay figure in {a.out}")


if __name__ == "__main__":
    main()
