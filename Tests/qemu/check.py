#!/usr/bin/env python3
"""Host-side checker of Tests/qemu (Python 3 standard library only).

  check.py SCENARIO DIR          check DIR/results.txt (smmuv3: also DIR/replay-host.json;
                                 virtio: the virtio-iommu guest; both in check_vendors.py)
  check.py extract-kmsg FILE     print the raw /dev/kmsg records of section `kmsg-raw`
  check.py estimate-trace DIR    print the estimator trace of a storm-* run (the format of
                                 Tests/IOMMUCoreTests/Fixtures/estimate/README.md)

The guest writes sections, each under a line `=== name` (see guest/init). The truth is
computed here from what the kernel itself said (the raw /dev/kmsg records, /proc/interrupts)
and from what the guest did (section `dmas`); the daemon's answers (/metrics,
`status --json`, `replay --json`) must match it exactly. For every check this prints what was
expected and what the daemon reported, then PASS or FAIL. Exit 0 only when all passed.
"""
import json
import re
import sys
from collections import Counter

EDU = "0000:00:01.0"          # QEMU puts edu at 00:01.0 (q35 and virt, with these command lines)
UNIT = "dmar0"
REPLAY_KEYS = ("vendor", "unit", "device", "kind", "reason", "reason_text", "address", "pasid",
               "access", "recoverable", "owner", "seq", "text")
BOUND_KINDS = ("exact", "lower", "upper", "unbounded")

# ------------------------------------------------------------------ parsing

KMSG_HDR = re.compile(r"^(\d+),(\d+),(\d+),([^;]*);(.*)$")
INTEL = re.compile(
    r"DMAR: \[(DMA Read|DMA Write) (NO_PASID|PASID 0x([0-9a-fA-F]+))\] Request device "
    r"\[([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])\] fault addr (0x[0-9a-fA-F]+) "
    r"\[fault reason (0x[0-9a-fA-F]+|\d+)\] ?(.*)$")
SUPPRESSED = re.compile(r"^(\S+): (\d+) callbacks suppressed")
VIRTIO = re.compile(r"^virtio_iommu (\S+): (page|domain|unknown) fault from EP (\d+)(?: at (0x[0-9a-fA-F]+) \[([RWX]*)\])?\s*$")
VIRTIO_EDU = "0000:00:02.0"   # -device virtio-iommu-pci first: it is 00:01.0, edu 00:02.0
SMMU_EVENT = re.compile(r"^arm-smmu-v3 (\S+): event (0x[0-9a-fA-F]+) received:")
SMMU_DWORD = re.compile(r"^arm-smmu-v3 (\S+):\s+(0x[0-9a-fA-F]+)\s*$")
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?\s*$")
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')


def read_text(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace").replace("\r", "")


def parse_sections(text):
    """`=== name` lines start sections; returns {name: [lines]} (a repeated name appends)."""
    secs, cur = {}, None
    for line in text.split("\n"):
        if line.startswith("=== "):
            cur = line[4:].strip()
            secs.setdefault(cur, [])
            continue
        if cur is not None:
            secs[cur].append(line)
    for lines in secs.values():
        while lines and lines[-1] == "":
            lines.pop()
    return secs


def unescape_kmsg(s):
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), s)


def parse_kmsg(lines):
    """Raw /dev/kmsg records: a header `pri,seq,ts,flags;text` plus ` KEY=value` lines.
    Other lines (a console's own output interleaved) are ignored."""
    recs = []
    for line in lines:
        m = KMSG_HDR.match(line)
        if m:
            pri = int(m.group(1))
            recs.append({"pri": pri, "facility": pri >> 3, "level": pri & 7, "seq": int(m.group(2)),
                         "ts": int(m.group(3)), "text": unescape_kmsg(m.group(5)), "dict": {}, "raw": line})
        elif line.startswith(" ") and recs and "=" in line:
            k, v = line[1:].split("=", 1)
            recs[-1]["dict"][k] = unescape_kmsg(v)
    return recs


def hexnorm(s):
    return hex(int(s, 16))


def reason_hex(s):
    """Intel reasons as the contract wants them: 0x%02x (≤ 5.13 kernels printed decimal)."""
    v = int(s, 16) if s.lower().startswith("0x") else int(s)
    return "0x%02x" % v


def intel_faults(recs):
    out = []
    for r in recs:
        if r["facility"] != 0:
            continue
        m = INTEL.search(r["text"])
        if not m:
            continue
        kind = "dma-read" if m.group(1) == "DMA Read" else "dma-write"
        out.append({"seq": r["seq"], "vendor": "intel", "kind": kind,
                    "pasid": None if m.group(2) == "NO_PASID" else hexnorm(m.group(3)),
                    "device": "0000:%s:%s.%s" % (m.group(4).lower(), m.group(5).lower(), m.group(6)),
                    "address": hexnorm(m.group(7)), "reason": reason_hex(m.group(8)),
                    "reason_text": m.group(9), "access": "read" if kind == "dma-read" else "write",
                    "recoverable": False})
    return out


def suppressed(recs, fn=None):
    tot = Counter()
    for r in recs:
        if r["facility"] != 0:
            continue
        m = SUPPRESSED.match(r["text"])
        if m:
            tot[m.group(1)] += int(m.group(2))
    return tot[fn] if fn else tot


def virtio_faults(recs):
    """virtio-iommu fault lines (viommu_fault_handler): the truth of the virtio scenario."""
    out = []
    for r in recs:
        m = VIRTIO.match(r["text"]) if r["facility"] == 0 else None
        if m:
            flags = m.group(5)
            out.append({"seq": r["seq"], "unit": m.group(1), "kind": m.group(2) + "-fault", "ep": int(m.group(3)),
                        "address": hexnorm(m.group(4)) if m.group(4) else None,
                        "access": {"R": "read", "W": "write"}.get(flags or "")})
    return out


def smmu_events(recs):
    """SMMUv3 event dumps: `event 0xNN received:` then the dwords, one record each."""
    events, cur = [], None
    for r in recs:
        if r["facility"] != 0:
            continue
        m = SMMU_EVENT.match(r["text"])
        if m:
            cur = {"seq": r["seq"], "smmu": m.group(1), "id": int(m.group(2), 16), "dw": []}
            events.append(cur)
            continue
        m = SMMU_DWORD.match(r["text"])
        if m and cur is not None and len(cur["dw"]) < 4:
            cur["dw"].append(int(m.group(2), 16))
    for e in events:
        dw = e["dw"] + [0] * (4 - len(e["dw"]))
        e["sid"] = dw[0] >> 32
        e["read"] = bool((dw[1] >> 35) & 1)          # RnW: 1 = read
        e["address"] = hex(dw[2])
        e["device"] = "0000:%02x:%02x.%d" % (e["sid"] >> 8, (e["sid"] >> 3) & 0x1F, e["sid"] & 7)
    return events


def parse_labels(s):
    labels, pos = {}, 0
    s = s.strip()
    while pos < len(s):
        m = LABEL.match(s, pos)
        if not m:
            raise ValueError("bad label set {%s}" % s)
        v = m.group(2).replace("\\\\", "\0").replace('\\"', '"').replace("\\n", "\n").replace("\0", "\\")
        labels[m.group(1)] = v
        pos = m.end()
    return labels


def metrics_sections(rep, secs):
    """The guest's scrapes after and before the faults; a failed check (and no samples) when
    either is not Prometheus text."""
    try:
        return parse_metrics(secs.get("metrics", [])), parse_metrics(secs.get("metrics-before", []))
    except ValueError as e:
        rep.check("/metrics is Prometheus text", "parseable", str(e), ok=False)
        return [], []


def parse_metrics(lines):
    """Prometheus text exposition: [(name, {labels}, value)]. Raises on a malformed line."""
    out = []
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise ValueError("not a Prometheus sample line: %r" % line)
        v = m.group(3)
        value = float("nan") if v == "NaN" else float(v.replace("+Inf", "inf").replace("-Inf", "-inf"))
        out.append((m.group(1), parse_labels(m.group(2) or ""), value))
    return out


def msum(samples, name, **match):
    """Sum of the samples of `name` whose labels include `match`; None when there is none."""
    vals = [v for n, l, v in samples if n == name and all(l.get(k) == w for k, w in match.items())]
    return sum(vals) if vals else None


def parse_interrupts(lines):
    """/proc/interrupts: {last column (e.g. dmar0, arm-smmu-v3-evtq): sum over CPUs}."""
    out, ncpu = {}, None
    for line in lines:
        if ncpu is None:
            if "CPU0" in line:
                ncpu = len(line.split())
            continue
        f = line.split()
        if len(f) < 2 or not f[0].endswith(":"):
            continue
        counts = []
        for x in f[1:1 + ncpu]:
            if not x.isdigit():
                break
            counts.append(int(x))
        if len(f) > 1 + len(counts):
            out[f[-1]] = out.get(f[-1], 0) + sum(counts)
    return out


def parse_meta(lines):
    """`key=value more=...` lines -> {key: value, key.more: ...}; cmdline keeps its whole rest."""
    meta = {}
    for line in lines:
        if line.startswith("cmdline="):
            meta["cmdline"] = line[len("cmdline="):]
            continue
        toks = line.split()
        if not toks:
            continue
        key, _, val = toks[0].partition("=")
        meta[key] = val
        for t in toks[1:]:
            k, _, v = t.partition("=")
            meta[key + "." + k] = v
    return meta


def parse_replay(lines):
    """JSON lines; returns (objects, errors)."""
    objs, errs = [], []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            o = json.loads(line)
        except ValueError as e:
            errs.append("line %d is not JSON (%s): %r" % (i, e, line[:120]))
            continue
        if not isinstance(o, dict):
            errs.append("line %d is not a JSON object" % i)
            continue
        missing = [k for k in REPLAY_KEYS if k not in o]
        if missing:
            errs.append("line %d lacks keys %s" % (i, ",".join(missing)))
        objs.append(o)
    return objs, errs


def parse_topology(lines):
    topo = {"units": {}, "groups": {}, "edu": {}}
    for line in lines:
        f = line.split()
        if not f:
            continue
        if f[0] == "unit" and len(f) >= 2:
            topo["units"][f[1]] = f[2:]
        elif f[0] == "group" and len(f) >= 3:
            topo["groups"][f[1]] = {"type": f[2], "devices": f[3:]}
        elif f[0] == "edu" and len(f) >= 2:
            topo["edu"]["device"] = f[1]
            for t in f[2:]:
                k, _, v = t.partition("=")
                topo["edu"][k] = v
    return topo

# ------------------------------------------------------------------ reporting


def fmt(v):
    if isinstance(v, Counter):
        if not v:
            return "none"
        return "; ".join("%s x%d" % (" ".join("-" if x is None else str(x) for x in k) if isinstance(k, tuple) else k, n)
                         for k, n in sorted(v.items(), key=lambda kv: str(kv[0])))
    if isinstance(v, list):
        return "[" + ", ".join(fmt(x) for x in v) + "]" if v else "none"
    if isinstance(v, tuple):
        return " ".join("-" if x is None else str(x) for x in v)
    if v is None:
        return "(absent)"
    if isinstance(v, float) and v == int(v):
        return str(int(v))
    return str(v)


class Report:
    def __init__(self, scenario):
        self.scenario, self.failed, self.n = scenario, 0, 0

    def check(self, what, expected, reported, ok=None):
        ok = (expected == reported) if ok is None else bool(ok)
        self.n += 1
        if not ok:
            self.failed += 1
        print("  %-4s %s\n         expected %s | reported %s" % ("ok" if ok else "FAIL", what, fmt(expected), fmt(reported)))
        return ok

    def info(self, what, text):
        print("  info %s: %s" % (what, fmt(text)))

    def done(self):
        verdict = "PASS" if self.failed == 0 and self.n > 0 else "FAIL"
        print("%s: %s (%d checks, %d failed)" % (self.scenario, verdict, self.n, self.failed))
        return verdict == "PASS"

# ------------------------------------------------------------------ scenario checks


def fault_key(f, unit=UNIT):
    return (unit, f["device"], f["vendor"], f["kind"], f["reason"], "false")


def metric_faults(samples):
    c = Counter()
    for n, l, v in samples:
        if n == "iommu_faults_total" and v:
            c[(l.get("unit"), l.get("device"), l.get("vendor"), l.get("kind"), l.get("reason"),
               l.get("recoverable"))] += int(v)
    return c


def replay_tuple(o):
    return (o.get("seq"), o.get("vendor"), o.get("unit"), o.get("device"), o.get("kind"), o.get("reason"),
            o.get("address"), o.get("pasid"), o.get("access"), o.get("recoverable"))


def truth_tuple(f, unit=UNIT):
    return (f["seq"], f["vendor"], unit, f["device"], f["kind"], f["reason"], f["address"], f["pasid"],
            f["access"], False)


def find_unit(status, name):
    for u in (status or {}).get("units", []) or []:
        if u.get("name") == name:
            return u
    return None


def find_device(status, dev):
    for d in (status or {}).get("devices", []) or []:
        if d.get("device") == dev:
            return d
    return None


def load_json(rep, secs, name):
    text = "\n".join(secs.get(name, []))
    try:
        return json.loads(text)
    except ValueError as e:
        rep.check("`iommud status --json` (%s) is one JSON object" % name, "JSON", "not JSON: %s: %r" % (e, text[:200]), ok=False)
        return None


def daemon_runs(meta):
    return max([int(m.group(1)) for k in meta for m in [re.match(r"daemon(\d+)_start$", k)] if m] or [0])


def guest_results(rep, d, tail_of="console.txt"):
    """The guest's results.txt as (sections, meta); (None, None) when it cannot be read (reported).
    Checks that the guest finished, and shows the tail of `tail_of` when it did not."""
    try:
        secs = parse_sections(read_text(d + "/results.txt"))
    except OSError as e:
        rep.check("guest results", "results.txt", str(e), ok=False)
        return None, None
    meta = parse_meta(secs.get("meta", []))
    if not rep.check("guest finished (section `end`)", True, "end" in secs):
        tail = read_text(d + "/" + tail_of).strip().split("\n")[-15:] if _exists(d + "/" + tail_of) else []
        rep.info("console tail", "\n           " + "\n           ".join(tail))
        rep.info("meta", "; ".join(secs.get("meta", [])))
    return secs, meta


def check_x86(scenario, d):
    rep = Report(scenario)
    secs, meta = guest_results(rep, d)
    if secs is None:
        return rep.done()
    runs = daemon_runs(meta)
    for r in range(1, runs + 1):
        rep.check("daemon run %d answered /metrics" % r, "ready", "ready at %ss" % meta.get("daemon%d_ready" % r) if ("daemon%d_ready" % r) in meta else
                  "never (%s)" % ", ".join(k for k in meta if k.startswith("daemon%d_" % r)),
                  ok=("daemon%d_ready" % r) in meta)
    if "error" in meta:
        rep.check("guest error", None, meta["error"], ok=False)
    if "end" not in secs or runs == 0 or ("daemon%d_ready" % runs) not in meta:
        for r in range(1, runs + 1):
            err = secs.get("daemon-stderr-%d" % r, [])
            if err:
                rep.info("daemon %d stderr" % r, "\n           " + "\n           ".join(err[-20:]))
        return rep.done()

    topo = parse_topology(secs.get("topology", []))
    edu_iommu = topo["edu"].get("iommu", "")
    rep.check("topology: edu is %s behind %s" % (EDU, UNIT), (EDU, UNIT),
              (topo["edu"].get("device"), edu_iommu.rsplit("/", 1)[-1] or None))
    recs = parse_kmsg(secs.get("kmsg-raw", []))
    truth = intel_faults(recs)
    dmas = [l for l in secs.get("dmas", []) if l.strip()]
    irq_before = parse_interrupts(secs.get("interrupts-before", [])).get(UNIT, 0)
    irq_after = parse_interrupts(secs.get("interrupts-after", [])).get(UNIT, 0)
    samples, samples_before = metrics_sections(rep, secs)
    status = load_json(rep, secs, "status-json")
    replay, rerrs = parse_replay(secs.get("replay-json", []))
    unit = find_unit(status, UNIT)

    rep.check("exit codes: status --json, status, replay", ("0", "0", "0"),
              (meta.get("rc_status_json"), meta.get("rc_status"), meta.get("rc_replay")))
    stop = "daemon%d_stop" % runs
    rep.check("`iommud run` stops cleanly on SIGTERM (exit 0)", "0", meta.get(stop + ".rc"),
              ok=meta.get(stop + ".signal") == "TERM" and meta.get(stop + ".rc") == "0")
    rep.check("status text (`iommud status`) is not empty", True, bool("".join(secs.get("status", [])).strip()))

    mode = "passthrough" if scenario == "passthrough" else "translated"
    rep.check("status .platform.mode", mode, ((status or {}).get("platform") or {}).get("mode"))
    rep.check("iommu_mode_info{mode=\"%s\"}" % mode, 1, msum(samples, "iommu_mode_info", mode=mode))
    others = [l.get("mode") for n, l, v in samples if n == "iommu_mode_info" and v and l.get("mode") != mode]
    rep.check("no other iommu_mode_info series is 1", [], others)
    rep.check("iommu_enabled", 1, msum(samples, "iommu_enabled"))

    # interrupts: the kernel's own count, the DMAs the guest did, and the daemon's counter
    n_expected_irq = 0 if scenario == "passthrough" else len(dmas)
    rep.check("kernel: /proc/interrupts %s delta = DMAs done (%d)" % (UNIT, len(dmas)), n_expected_irq, irq_after - irq_before)
    m_after = msum(samples, "iommu_fault_interrupts_total", unit=UNIT, vector="fault")
    m_before = msum(samples_before, "iommu_fault_interrupts_total", unit=UNIT, vector="fault")
    rep.check("iommu_fault_interrupts_total{unit=\"%s\",vector=\"fault\"} delta = /proc/interrupts delta" % UNIT,
              irq_after - irq_before, None if m_after is None or m_before is None else int(m_after - m_before))
    rep.check("iommu_fault_interrupts_total = /proc/interrupts %s now" % UNIT, irq_after,
              None if m_after is None else int(m_after))
    rep.check("status units[%s].interrupts = the metric" % UNIT, None if m_after is None else int(m_after),
              (unit or {}).get("interrupts"))

    if scenario == "overrun":
        return overrun(rep, secs, meta, recs, truth, samples, status, replay, rerrs, unit)

    # faults: the truth is every detailed fault record of the raw kmsg ring (it did not wrap)
    first_seq = recs[0]["seq"] if recs else None
    rep.info("kernel", "%d kmsg records (seq %s..%s), %d detailed fault records, DMAs: %s" % (
        len(recs), first_seq, recs[-1]["seq"] if recs else None, len(truth), "; ".join(" ".join(l.split()[1:4]) for l in dmas)))
    expect_faults = Counter(fault_key(f) for f in truth)
    if scenario in ("default", "scalable"):
        pasid = "0x0" if scenario == "scalable" else None
        want = [("dma-read", "0x06", "0x1000", pasid), ("dma-write", "0x05", "0xdead0000", pasid)]
        rep.check("kernel: the two faults (read 0x1000 reason 0x06, write 0xdead0000 reason 0x05%s)" % (", PASID 0x0" if pasid else ""),
                  want, [(f["kind"], f["reason"], f["address"], f["pasid"]) for f in truth])
    if scenario == "passthrough":
        rep.check("kernel: no fault records with iommu=pt", 0, len(truth))
        types = sorted(set(g["type"] for g in topo["groups"].values()))
        rep.check("kernel: iommu groups are of type identity", ["identity"], types)
    common_faults(rep, truth, expect_faults, samples, status, unit, replay, rerrs,
                  group=topo["edu"].get("group", "").rsplit("/", 1)[-1] or None)

    supp = suppressed(recs, "dmar_fault")
    m_supp = msum(samples, "iommu_faults_suppressed_total", source="dmar_fault")
    rep.check("iommu_faults_suppressed_total{source=\"dmar_fault\"} = sum of `dmar_fault: N callbacks suppressed`",
              supp, int(m_supp or 0) if (m_supp is not None or supp == 0) else None)
    rep.check("status units[%s].suppressed" % UNIT, supp, (unit or {}).get("suppressed"))
    lost = first_seq or 0          # records that wrapped before the daemon started (none here)
    rep.check("iommud_kmsg_lost_records_total", lost, _int(msum(samples, "iommud_kmsg_lost_records_total")))
    rep.check("status .kmsg.lost_records", lost, ((status or {}).get("kmsg") or {}).get("lost_records"))

    logged = len(truth)
    if scenario == "ratelimit" or scenario.startswith("storm-"):
        rep.info("kernel", "detailed %d of %d faults, suppressed messages %d (expected pattern: 3 detailed, "
                 "then `N callbacks suppressed` with the seventh, which is detailed too)" % (logged, len(dmas), supp))
        rep.check("kernel: the ratelimit suppressed something (six DMAs within 5 s)", True, supp > 0,
                  ok=supp > 0)
    # The bounds agree with the estimate: while it has no upper bound (a count pending, several
    # units before v6.16), logged + suppressed is no upper bound either, and nothing is exact.
    est = (unit or {}).get("estimate") or {}
    unbounded = "upper" in est and est["upper"] is None
    exact = not supp and not unbounded
    exp_bounds = ({"value": logged, "kind": "exact" if exact else "lower"},
                  {"value": None, "kind": "unbounded", "why": "see the estimate"} if unbounded else
                  {"value": logged + supp, "kind": "exact" if exact else "upper"})
    b = (unit or {}).get("bounds") or {}
    rep.check("status units[%s].bounds lower / upper (unbounded when the estimate is)" % UNIT, exp_bounds,
              (b.get("lower"), b.get("upper")))

    if scenario.startswith("storm-"):
        truth = len(dmas)
        lo, up = (b.get("lower") or {}).get("value"), (b.get("upper") or {}).get("value")
        rep.check("status units[%s].bounds hold the truth (%d DMAs): lower <= truth <= upper (null: unbounded)"
                  % (UNIT, truth), True, isinstance(lo, int) and lo <= truth and (up is None or truth <= up),
                  ok=isinstance(lo, int) and lo <= truth and (up is None or truth <= up))
        estimate_verdict(rep, truth, irq_after - irq_before, status, samples)
        if scenario in FLUSHED_STORMS:
            rep.check("estimate is exact: every window's count was printed (the storm ends with a flush)",
                      True, est.get("exact"))
    if scenario == "restart":
        kill_status = load_json(rep, secs, "status-json-kill") if "status-json-kill" in secs else None
        ku = find_unit(kill_status, UNIT)
        rep.info("before SIGKILL the daemon had logged", (ku or {}).get("faults", {}).get("logged") if ku else None)
        rep.check("restart: %d DMAs (2 before SIGKILL, 1 while down, 1 after) = faults counted once" % len(dmas),
                  len(dmas), ((unit or {}).get("faults") or {}).get("logged"))
    return rep.done()


def common_faults(rep, truth, expect_faults, samples, status, unit, replay, rerrs, what="raw kmsg", group=None):
    rep.check("iommu_faults_total = detailed fault records in the %s" % what, expect_faults, metric_faults(samples))
    logged = sum(expect_faults.values())
    rep.check("iommu_unit_faults_total{unit=\"%s\"}" % UNIT, logged, _int(msum(samples, "iommu_unit_faults_total", unit=UNIT)))
    f = (unit or {}).get("faults") or {}
    rep.check("status units[%s].faults logged / recoverable / non_recoverable" % UNIT, (logged, 0, logged),
              (f.get("logged"), f.get("recoverable"), f.get("non_recoverable")))
    dev = find_device(status, EDU)
    kinds = Counter()
    for k, n in expect_faults.items():
        kinds[k[3]] += n
    if logged:
        rep.check("status devices[%s] faults / unit / group / by_kind" % EDU, (logged, UNIT, group, dict(sorted(kinds.items()))),
                  None if dev is None else (dev.get("faults"), dev.get("unit"), None if dev.get("group") is None else str(dev.get("group")),
                                            dict(sorted((dev.get("by_kind") or {}).items()))))
    else:
        rep.check("status devices[%s] has no faults" % EDU, 0, 0 if dev is None else dev.get("faults"))
    rep.check("replay --json: every stdout line is a JSON object with the contract keys", [], rerrs)
    rep.check("replay --json of the raw kmsg = its fault records (seq vendor unit device kind reason address pasid access recoverable)",
              [truth_tuple(t) for t in truth], [replay_tuple(o) for o in replay])


def overrun(rep, secs, meta, recs, truth, samples, status, replay, rerrs, unit):
    stop_recs = parse_kmsg(secs.get("kmsg-stop", []))
    stop_status = load_json(rep, secs, "status-json-stop")
    try:
        stop_samples = parse_metrics(secs.get("metrics-stop", []))
    except ValueError:
        stop_samples = []
    first = parse_kmsg(secs.get("kmsg-first-before-restart", []))
    ckpt = ((stop_status or {}).get("kmsg") or {}).get("last_seq")
    s_stop = stop_recs[-1]["seq"] if stop_recs else None
    marker = [r["seq"] for r in stop_recs if r["text"] == "iommud-qemu: stop marker"]
    rep.check("at SIGTERM the daemon had read the whole ring: status .kmsg.last_seq = last seq (the stop marker)",
              s_stop, ckpt, ok=ckpt is not None and ckpt == s_stop and marker and marker[-1] == s_stop)
    F = first[0]["seq"] if first else None
    before_flood = intel_faults(stop_recs)
    rep.info("kernel", "checkpointed seq %s, first seq in the ring at restart %s, flood %s rounds, %s flood records left" % (
        ckpt, F, meta.get("flood_rounds"), meta.get("flood_records_in_final_ring")))
    ok_wrap = F is not None and ckpt is not None and F > ckpt + 1 and first and "iommud-qemu-flood" in first[0]["text"]
    rep.check("kernel: the guest's ring wrapped past the checkpoint (oldest record is flood)", True, bool(ok_wrap))
    lost_before = _int(msum(stop_samples, "iommud_kmsg_lost_records_total")) or 0
    exp_lost = None if F is None or ckpt is None else lost_before + (F - ckpt - 1)
    rep.check("iommud_kmsg_lost_records_total = lost before stop (%d) + first seq after restart (%s) - checkpointed seq (%s) - 1"
              % (lost_before, F, ckpt), exp_lost, _int(msum(samples, "iommud_kmsg_lost_records_total")))
    rep.check("status .kmsg.lost_records", exp_lost, ((status or {}).get("kmsg") or {}).get("lost_records"))
    kept = [f for f in truth if F is not None and f["seq"] >= F]
    seen = [f for f in before_flood if ckpt is not None and f["seq"] <= ckpt]
    dmas = [l.split() for l in secs.get("dmas", []) if l.strip()]
    n_down_lost = len([x for x in dmas if len(x) > 1 and x[1] == "down"]) - len(kept)
    rep.info("faults", "%d counted before the stop, %d lost with the wrapped records (DMAs while down, before the flood), %d kept in the ring"
             % (len(seen), n_down_lost, len(kept)))
    expect = Counter(fault_key(f) for f in seen + kept)
    rep.check("iommu_faults_total = faults read before the stop + faults still in the ring (each once)", expect, metric_faults(samples))
    logged = sum(expect.values())
    f = (unit or {}).get("faults") or {}
    rep.check("status units[%s].faults.logged" % UNIT, logged, f.get("logged"))
    rep.check("replay --json: every stdout line is a JSON object with the contract keys", [], rerrs)
    rep.check("replay --json of the ring after restart = the kept fault records",
              [truth_tuple(t) for t in truth], [replay_tuple(o) for o in replay])
    return rep.done()


# ------------------------------------------------------------------ storms: the fault-count estimate

ESTIMATE_BOUNDS = ("estimate", "lower", "upper")
# Storms that end with a pause longer than the interval and one more DMA: the last window's count
# is printed, so the model must say exact (Tests/qemu/README.md).
FLUSHED_STORMS = ("storm-flush", "storm-200", "storm-mixed", "storm-restart")


def estimate_verdict(rep, truth, irq_delta, status, samples):
    """The daemon's estimate of the faults behind dmar_fault()'s ratelimit
    (docs/intel-ratelimit-model.md): `status --json` .units[].estimate {value, lower, upper,
    exact, condition} and iommu_unit_faults_estimate{unit, bound="estimate|lower|upper"}.
    The truth is the number of bad DMAs (one fault record each), which must equal the dmar0
    interrupt delta. Exact -> value == truth; always lower <= truth <= upper (upper null:
    unbounded, and then no `upper` series)."""
    rep.check("kernel: /proc/interrupts %s delta = DMAs done = the truth (%d)" % (UNIT, truth), truth, irq_delta)
    est = (find_unit(status, UNIT) or {}).get("estimate")
    if not rep.check("status units[%s].estimate is an object with value, lower, upper, exact, condition" % UNIT,
                     True, isinstance(est, dict) and all(k in est for k in ("value", "lower", "upper", "exact", "condition")),
                     ok=isinstance(est, dict) and all(k in est for k in ("value", "lower", "upper", "exact", "condition"))):
        est = {}
    value, lower, upper, exact = est.get("value"), est.get("lower"), est.get("upper"), est.get("exact")
    rep.info("estimate", "value %s lower %s upper %s exact %s: %s" % (value, lower, upper, exact, est.get("condition")))
    if exact is True:
        rep.check("estimate marked exact = the truth", truth, value)
    ints = all(isinstance(x, int) for x in (value, lower)) and (upper is None or isinstance(upper, int))
    rep.check("estimate bounds hold: lower <= truth <= upper (null = unbounded), lower <= value <= upper",
              "%s <= %d <= %s" % (lower, truth, "inf" if upper is None else upper),
              "lower %s value %s upper %s" % (lower, value, upper),
              ok=ints and lower <= truth and lower <= value and (upper is None or (truth <= upper and value <= upper)))
    series = {b: msum(samples, "iommu_unit_faults_estimate", unit=UNIT, bound=b) for b in ESTIMATE_BOUNDS}
    want = {"estimate": value, "lower": lower, "upper": upper}
    rep.check("iommu_unit_faults_estimate{unit=\"%s\",bound=estimate|lower|upper} = status (no upper series when unbounded)" % UNIT,
              [want[b] for b in ESTIMATE_BOUNDS],
              [None if series[b] is None else int(series[b]) for b in ESTIMATE_BOUNDS],
              ok=est != {} and all((series[b] is None if want[b] is None else series[b] == want[b]) for b in ESTIMATE_BOUNDS))


TRACE_KEEP = re.compile(r"DRHD: handling fault status reg|DMAR: ?\[(DMA|INTR)|^dmar_fault: \d+ callbacks suppressed")


def estimate_trace(d):
    """The estimator trace of a storm-* run: the dmar_fault records of the raw kmsg ring, the
    points where the daemon sampled /proc/interrupts (`@interrupts dmar0=N` after the last
    record it had read), the daemon's checkpoint and restart, and the truth."""
    secs = parse_sections(read_text(d + "/results.txt"))
    meta = parse_meta(secs.get("meta", []))
    scen = meta.get("scenario", "?")
    recs = [r for r in parse_kmsg(secs.get("kmsg-raw", [])) if r["facility"] == 0 and TRACE_KEEP.search(r["text"])]
    samples = []
    for line in secs.get("isamples", []):
        f = line.split()
        if len(f) >= 3:
            samples.append((int(f[0]), int(f[1]), f[2], f[3] if len(f) > 3 else ""))
    dmas = [l.split() for l in secs.get("dmas", []) if l.strip()]
    truth = len(dmas)
    irq_delta = (samples[-1][1] - samples[0][1]) if samples else None
    if not samples or irq_delta != truth or meta.get("storm_truth.dmas") != str(truth):
        print("estimate-trace: no consistent truth (DMAs %d, interrupt delta %s, meta %s)" % (
            truth, irq_delta, meta.get("storm_truth.dmas")), file=sys.stderr)
        return 1
    marks = []        # (seq, guest uptime, line): after the last kept record with seq <= seq, in time order
    for seq, n, up, label in samples:
        marks.append((seq, float(up), "@interrupts %s=%d" % (UNIT, n)))
    for what in ("checkpoint", "restart"):
        if "storm_%s.seq" % what in meta:
            marks.append((int(meta["storm_%s.seq" % what]), float(meta["storm_%s.at" % what]), "@" + what))
    marks.sort()
    phases = Counter(x[1] for x in dmas if len(x) > 1)
    supp = suppressed(recs, "dmar_fault")
    out = ["# estimate trace: %s, kernel %s under QEMU TCG (-device intel-iommu, edu), made by Tests/qemu/run.sh" % (scen, meta.get("kernel", "?")),
           "# guest: %d bad edu DMAs (%s), one fault record each; bursts and pauses in guest/init `%s`" % (
               truth, ", ".join("%s %d" % kv for kv in sorted(phases.items())), scen),
           "# kernel printed: %d status lines, %d fault records, `dmar_fault: N callbacks suppressed` N = %s" % (
               len([r for r in recs if "DRHD" in r["text"]]), len(intel_faults(recs)),
               "+".join(str(int(SUPPRESSED.match(r["text"]).group(2))) for r in recs if SUPPRESSED.match(r["text"])) or "none"),
           "# records kept: dmar_fault's own (status, fault records, suppressed counts); the rest of the ring dropped"]
    mi = 0
    for r in recs:
        while mi < len(marks) and marks[mi][0] < r["seq"]:
            out.append(marks[mi][2]); mi += 1
        out.append(r["raw"])
    for m in marks[mi:]:
        out.append(m[2])
    out.append("@truth %s=%d" % (UNIT, truth))
    print("\n".join(out))
    return 0 if supp >= 0 else 1


def _sid(v):
    if v is None:
        return None
    try:
        return hex(int(v, 16) if isinstance(v, str) else int(v))
    except ValueError:
        return v


def _int(v):
    return None if v is None else int(v)


def _exists(p):
    try:
        open(p).close()
        return True
    except OSError:
        return False


def extract_kmsg(path):
    secs = parse_sections(read_text(path))
    for line in secs.get("kmsg-raw", []):
        if KMSG_HDR.match(line) or (line.startswith(" ") and "=" in line):
            print(line)


def main(argv):
    if len(argv) == 3 and argv[1] == "extract-kmsg":
        extract_kmsg(argv[2])
        return 0
    if len(argv) == 3 and argv[1] == "estimate-trace":
        return estimate_trace(argv[2])
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    scenario, d = argv[1], argv[2]
    if scenario in ("smmuv3", "virtio"):
        import check_vendors  # the scenarios of the other IOMMUs
        ok = check_vendors.check_smmuv3(d) if scenario == "smmuv3" else check_vendors.check_virtio(d)
    else:
        ok = check_x86(scenario, d)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
