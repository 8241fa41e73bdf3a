#!/usr/bin/env python3
"""Unit tests of check.py's parsing and verdicts, on real captures:
fixtures/reference/ holds raw /dev/kmsg and /proc/interrupts captured from Debian's 6.1
kernel under QEMU (Intel VT-d default, scalable mode, ratelimit; SMMUv3 with and without
pci-stub); fixtures/results/ holds whole guest result streams of this harness (made with the
stand-in daemon; virtio and smmuv3 with the real one), which must PASS as they are and FAIL when
a daemon figure is made wrong.
Run: python3 Tests/qemu/test_check.py
"""
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import check  # noqa: E402
import check_vendors  # noqa: E402

REF = os.path.join(HERE, "fixtures", "reference")
RES = os.path.join(HERE, "fixtures", "results")


def lines(*p):
    return check.read_text(os.path.join(REF, *p)).split("\n")


class KmsgParsing(unittest.TestCase):
    def test_intel_default(self):
        recs = check.parse_kmsg(lines("intel-default", "kmsg-raw-after-dma.txt"))
        self.assertEqual([r["seq"] for r in recs], list(range(372, 379)))
        self.assertTrue(all(r["level"] == 3 and r["facility"] == 0 for r in recs))
        faults = check.intel_faults(recs)
        self.assertEqual([(f["seq"], f["kind"], f["address"], f["reason"], f["pasid"], f["device"]) for f in faults], [
            (373, "dma-read", "0x1000", "0x06", None, "0000:00:01.0"),
            (375, "dma-write", "0xdead0000", "0x05", None, "0000:00:01.0"),
            (377, "dma-read", "0xdead0000", "0x06", None, "0000:00:01.0")])
        self.assertEqual(faults[0]["reason_text"], "PTE Read access is not set")
        self.assertEqual(check.suppressed(recs, "dmar_fault"), 0)

    def test_intel_scalable_pasid(self):
        faults = check.intel_faults(check.parse_kmsg(lines("intel-scalable", "kmsg-raw-after-dma.txt")))
        self.assertEqual([f["pasid"] for f in faults], ["0x0"] * 3)
        self.assertEqual([f["access"] for f in faults], ["read", "write", "read"])

    def test_intel_ratelimit(self):
        recs = check.parse_kmsg(lines("intel-bb-ratelimit", "kmsg-raw-after-dma.txt"))
        self.assertEqual(len(check.intel_faults(recs)), 4)          # the 4th interrupt lost its detail
        self.assertEqual(check.suppressed(recs, "dmar_fault"), 2)
        self.assertEqual(check.suppressed(recs), {"dmar_fault": 2})
        self.assertEqual([r["level"] for r in recs if "suppressed" in r["text"]], [4])

    def test_dictionary_lines(self):
        recs = check.parse_kmsg(lines("intel-default", "kmsg-raw-dictionary-example.txt"))
        self.assertEqual(recs[1]["dict"], {"SUBSYSTEM": "pci", "DEVICE": "+pci:0000:00:01.0"})
        self.assertEqual(recs[2]["dict"], {})

    def test_smmuv3_stub(self):
        recs = check.parse_kmsg(lines("smmuv3-stub", "kmsg-raw-after-dma.txt"))
        self.assertEqual(recs[1]["text"], "arm-smmu-v3 9050000.smmuv3: \t0x0000000800000010")   # \x09 unescaped
        self.assertEqual(recs[0]["dict"]["DEVICE"], "+platform:9050000.smmuv3")
        ev = check.smmu_events(recs)
        self.assertEqual([(e["id"], e["sid"], e["device"], e["read"], e["address"]) for e in ev], [
            (0x10, 8, "0000:00:01.0", True, "0x1000"), (0x10, 8, "0000:00:01.0", False, "0xdead0000"),
            (0x10, 8, "0000:00:01.0", True, "0xdead0000"), (0x10, 8, "0000:00:01.0", False, "0x1000"),
            (0x10, 8, "0000:00:01.0", True, "0x2000")])
        self.assertEqual(ev[0]["seq"], 243)

    def test_smmuv3_nostub_is_bad_streamid(self):
        ev = check.smmu_events(check.parse_kmsg(lines("smmuv3-nostub", "kmsg-raw-after-dma.txt")))
        self.assertEqual(len(ev), 10)              # the driver prints 10 events per 5 s
        self.assertEqual(set(e["id"] for e in ev), {0x02})
        self.assertEqual(set(e["sid"] for e in ev), {8})

    def test_virtio_iommu_capture(self):
        # The real 6.12 capture (Tests/IOMMUCoreTests/Fixtures/real/virtio-iommu-q35.txt): 11 lines
        # printed (8 more suppressed), EP 16, QEMU's unmapped faults carry no direction.
        path = os.path.join(HERE, "..", "IOMMUCoreTests", "Fixtures", "real", "virtio-iommu-q35.txt")
        recs = check.parse_kmsg(check.read_text(path).split("\n"))
        f = check.virtio_faults(recs)
        self.assertEqual(len(f), 11)
        self.assertEqual((f[0]["unit"], f[0]["kind"], f[0]["ep"], f[0]["address"], f[0]["access"]),
                         ("virtio0", "page-fault", 16, "0x1000", None))
        self.assertEqual(f[1]["address"], "0xdead0000")
        self.assertEqual(check.suppressed(recs, "viommu_fault_handler"), 8)
        m = check.VIRTIO.match("virtio_iommu virtio1: domain fault from EP 8 at 0x2000 [W]")
        self.assertEqual((m.group(2), m.group(5)), ("domain", "W"))
        self.assertTrue(check.VIRTIO.match("virtio_iommu virtio0: unknown fault from EP 24"))

    def test_foreign_lines_ignored(self):
        recs = check.parse_kmsg(["[    4.1] arm-smmu-v3: console noise", "Terminated",
                                 "6,5,100,-;hello", " A=b", "=== next"])
        self.assertEqual([(r["seq"], r["text"], r["dict"]) for r in recs], [(5, "hello", {"A": "b"})])

    def test_user_records_are_not_faults(self):
        t = "DMAR: [DMA Read NO_PASID] Request device [00:01.0] fault addr 0x1000 [fault reason 0x06] x"
        recs = check.parse_kmsg(["14,1,1,-;" + t, "3,2,2,-;" + t])
        self.assertEqual([f["seq"] for f in check.intel_faults(recs)], [2])

    def test_decimal_reason_of_old_kernels(self):
        t = "3,1,1,-;DMAR: [DMA Write] Request device [00:01.0] fault addr 0x1000 [fault reason 05] x"
        self.assertEqual(check.intel_faults(check.parse_kmsg([t])), [])   # no PASID part: not this era's format
        t = "3,1,1,-;DMAR: [DMA Write NO_PASID] Request device [00:01.0] fault addr 0x1000 [fault reason 13] x"
        self.assertEqual(check.intel_faults(check.parse_kmsg([t]))[0]["reason"], "0x0d")


class Interrupts(unittest.TestCase):
    def test_intel(self):
        b = check.parse_interrupts(lines("intel-default", "interrupts-before.txt"))
        a = check.parse_interrupts(lines("intel-default", "interrupts-after.txt"))
        self.assertEqual((b["dmar0"], a["dmar0"]), (0, 4))
        self.assertEqual(a["timer"], 96)
        self.assertNotIn("ERR:", a)
        r = check.parse_interrupts(lines("intel-bb-ratelimit", "interrupts-after.txt"))
        self.assertEqual(r["dmar0"], 5)

    def test_arm(self):
        a = check.parse_interrupts(lines("smmuv3-stub", "interrupts-after.txt"))
        self.assertEqual(a["arm-smmu-v3-evtq"], 5)
        self.assertEqual(a["arm-smmu-v3-gerror"], 0)

    def test_sums_cpus(self):
        a = check.parse_interrupts(["           CPU0       CPU1", " 24:          3          4  DMAR-MSI   0-edge      dmar0"])
        self.assertEqual(a, {"dmar0": 7})


class Metrics(unittest.TestCase):
    TEXT = """# HELP iommu_faults_total Faults.
# TYPE iommu_faults_total counter
iommu_faults_total{unit="dmar0",device="0000:00:01.0",vendor="intel",kind="dma-read",reason="0x06",recoverable="false"} 2
iommu_faults_total{recoverable="false",reason="0x05",kind="dma-write",vendor="intel",device="0000:00:01.0",unit="dmar0"} 1
iommu_fault_interrupts_total{vector="fault",unit="dmar0"} 4
iommu_faults_suppressed_total{source="dmar_fault"} 2.0
iommud_kmsg_lost_records_total 0
iommud_build_info{version="1.0 \\"x\\"",swift="6.0",} 1 1700000000000
process_start_time_seconds 1.7e+09
"""

    def test_parse_any_label_order(self):
        s = check.parse_metrics(self.TEXT.split("\n"))
        self.assertEqual(check.metric_faults(s), {
            ("dmar0", "0000:00:01.0", "intel", "dma-read", "0x06", "false"): 2,
            ("dmar0", "0000:00:01.0", "intel", "dma-write", "0x05", "false"): 1})
        self.assertEqual(check.msum(s, "iommu_fault_interrupts_total", unit="dmar0", vector="fault"), 4)
        self.assertEqual(check.msum(s, "iommu_faults_suppressed_total", source="dmar_fault"), 2)
        self.assertEqual(check.msum(s, "iommud_kmsg_lost_records_total"), 0)
        self.assertIsNone(check.msum(s, "iommu_faults_suppressed_total", source="other"))
        self.assertEqual([l for n, l, v in s if n == "iommud_build_info"][0]["version"], '1.0 "x"')

    def test_malformed(self):
        with self.assertRaises(ValueError):
            check.parse_metrics(['iommu_enabled{unit="x} 1'])


class Replay(unittest.TestCase):
    def test_json_lines(self):
        good = '{"vendor":"intel","unit":"dmar0","device":"0000:00:01.0","kind":"dma-read","reason":"0x06",' \
               '"reason_text":"PTE Read access is not set","address":"0x1000","pasid":null,"access":"read",' \
               '"recoverable":false,"owner":null,"seq":373,"text":"x"}'
        objs, errs = check.parse_replay([good, ""])
        self.assertEqual((len(objs), errs), (1, []))
        objs, errs = check.parse_replay([good, "replay: 1 fault", '{"vendor":"intel"}'])
        self.assertEqual(len(errs), 2)


class Sections(unittest.TestCase):
    def test_crlf_and_noise(self):
        text = "boot noise\r\n=== a\r\nx\r\n\r\n=== meta\r\nscenario=default\r\narch=x86_64\r\n" \
               "daemon1_stop signal=TERM rc=0 at=3.2\r\ncmdline=a b=c\r\n=== end\r\n"
        secs = check.parse_sections(text.replace("\r", ""))
        self.assertEqual(secs["a"], ["x"])
        m = check.parse_meta(secs["meta"])
        self.assertEqual((m["scenario"], m["daemon1_stop.rc"], m["daemon1_stop.signal"], m["cmdline"]),
                         ("default", "0", "TERM", "a b=c"))
        self.assertEqual(check.daemon_runs({"daemon1_start": "1", "daemon2_start": "2", "daemon2_start.pid": "9"}), 2)


def run_check(scenario, d):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        ok = (check_vendors.check_smmuv3(d) if scenario == "smmuv3" else check_vendors.check_virtio(d)
              if scenario == "virtio" else check.check_x86(scenario, d))
    return ok, out.getvalue()


@unittest.skipUnless(os.path.isdir(RES), "no fixtures/results")
class WholeScenarios(unittest.TestCase):
    """Real guest outputs (stand-in daemon): PASS as captured; FAIL when one figure is wrong."""

    def scenarios(self):
        return sorted(os.listdir(RES))

    def copy(self, s):
        d = tempfile.mkdtemp()
        for f in os.listdir(os.path.join(RES, s)):
            shutil.copy(os.path.join(RES, s, f), d)
        self.addCleanup(shutil.rmtree, d)
        return d

    def test_captured_pass(self):
        for s in self.scenarios():
            ok, out = run_check(s, os.path.join(RES, s))
            self.assertTrue(ok, "%s should pass:\n%s" % (s, out))

    def mutate(self, s, old, new, count=1):
        d = self.copy(s)
        p = os.path.join(d, "results.txt" if s != "smmuv3" else "replay-host.json")
        text = check.read_text(p)
        self.assertIn(old, text, "%s: fixture lacks %r" % (s, old))
        with open(p, "w") as f:
            f.write(text.replace(old, new, count))
        ok, out = run_check(s, d)
        self.assertFalse(ok, "%s with %r -> %r should fail:\n%s" % (s, old, new, out))
        return out

    def test_wrong_figures_fail(self):
        have = set(self.scenarios())
        if "default" in have:
            self.mutate("default", 'kind="dma-write",reason="0x05",recoverable="false"} 1',
                        'kind="dma-write",reason="0x05",recoverable="false"} 2')
            self.mutate("default", '"reason":"0x06"', '"reason":"0x6"')
            self.mutate("default", 'vector="fault",unit="dmar0"} 2', 'vector="fault",unit="dmar0"} 3')
            self.mutate("default", '"kind":"exact"', '"kind":"lower"')
            self.mutate("default", "=== end", "=== not-the-end")
        if "scalable" in have:
            self.mutate("scalable", '"pasid":"0x0"', '"pasid":null')
        if "passthrough" in have:
            self.mutate("passthrough", 'iommu_mode_info{mode="passthrough"} 1', 'iommu_mode_info{mode="translated"} 1', count=-1)
        if "ratelimit" in have:
            self.mutate("ratelimit", 'iommu_faults_suppressed_total{source="dmar_fault"} ',
                        'iommu_faults_suppressed_total{source="dmar_fault"} 1')
            self.mutate("ratelimit", '"kind":"upper"', '"kind":"unbounded"')
        if "overrun" in have:
            self.mutate("overrun", "iommud_kmsg_lost_records_total ", "iommud_kmsg_lost_records_total 1", count=-1)
        if "restart" in have:
            self.mutate("restart", '"logged":4', '"logged":5', count=-1)
        if "virtio" in have:
            # edu is named through VIOT: a replay or a metric that misses it, or miscounts, fails.
            self.mutate("virtio", '"device":"0000:00:02.0","kind":"page-fault"', '"device":null,"kind":"page-fault"', count=-1)
            self.mutate("virtio", 'device="0000:00:02.0",vendor="virtio-iommu",kind="page-fault",reason="",recoverable="false"} 2',
                        'device="0000:00:02.0",vendor="virtio-iommu",kind="page-fault",reason="",recoverable="false"} 3')
            self.mutate("virtio", 'iommu_fault_interrupts_total{unit="0000:00:01.0",vector="shared"} 3',
                        'iommu_fault_interrupts_total{unit="0000:00:01.0",vector="shared"} 4')
        if "smmuv3" in have:
            self.mutate("smmuv3", '"access":"write"', '"access":"read"')
            # A device invented from the StreamID without a topology must fail.
            self.mutate("smmuv3", '"device":null', '"device":"0000:00:01.0"')


STORM = os.path.join(HERE, "fixtures", "storm")


@unittest.skipUnless(os.path.isdir(STORM), "no fixtures/storm")
class Storms(unittest.TestCase):
    """A real storm-noflush stream from before the daemon reported the estimate: its estimator
    trace, and the estimate verdicts with an estimate written into it; and a stream of the daemon
    that reports it (storm-noflush-live), which passes as captured."""
    D = os.path.join(STORM, "storm-noflush")

    def test_estimate_trace(self):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = check.estimate_trace(self.D)
        self.assertEqual(rc, 0)
        lines = out.getvalue().rstrip("\n").split("\n")
        self.assertEqual(lines[-1], "@truth dmar0=30")
        self.assertEqual(lines[4], "@interrupts dmar0=0")
        recs = check.parse_kmsg(lines)
        self.assertEqual(len([r for r in recs if "DRHD" in r["text"]]), 11)
        self.assertEqual(len(check.intel_faults(recs)), 9)
        self.assertEqual(check.suppressed(recs, "dmar_fault"), 41)
        # a sample sits after the last record the daemon had read when it took it
        i = lines.index("@interrupts dmar0=20")
        self.assertTrue(lines[i - 1].startswith("3,388,"))

    def test_live_daemon_stream(self):
        ok, out = run_check("storm-noflush", os.path.join(STORM, "storm-noflush-live"))
        self.assertTrue(ok, out)
        self.assertIn("iommu_unit_faults_estimate", out)

    def with_estimate(self, est, series):
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d)
        secs_text = check.read_text(os.path.join(self.D, "results.txt"))
        out, sec = [], None
        for line in secs_text.split("\n"):
            if line.startswith("=== "):
                sec = line[4:].strip()
            elif sec == "status-json" and est is not None and line.strip().startswith("{"):
                st = json.loads(line)
                for u in st["units"]:
                    if u["name"] == "dmar0":
                        u["estimate"] = est
                        if est.get("upper", 0) is None:  # the daemon's bounds follow its estimate
                            u["bounds"]["upper"] = {"value": None, "kind": "unbounded", "why": "see the estimate"}
                line = json.dumps(st)
            out.append(line)
            if line == "=== metrics":
                out.extend('iommu_unit_faults_estimate{unit="dmar0",bound="%s"} %d' % kv for kv in series.items())
        with open(os.path.join(d, "results.txt"), "w") as f:
            f.write("\n".join(out))
        return run_check("storm-noflush", d)

    def test_verdicts(self):
        good = {"value": 30, "lower": 30, "upper": None, "exact": False, "condition": "pending"}
        ok, out = self.with_estimate(good, {"estimate": 30, "lower": 30})
        self.assertTrue(ok, out)
        ok, out = self.with_estimate(None, {})
        self.assertFalse(ok)                                   # what the daemon does today
        for bad, series in [
            (dict(good, value=29, exact=True), {"estimate": 29, "lower": 30}),     # exact but wrong
            (dict(good, lower=31, value=31), {"estimate": 31, "lower": 31}),       # lower above the truth
            (dict(good, upper=29, value=29, lower=9), {"estimate": 29, "lower": 9, "upper": 29}),
            (good, {"estimate": 30, "lower": 30, "upper": 30}),                     # an upper series though unbounded
            (good, {"estimate": 31, "lower": 30}),                                  # metric != status
        ]:
            ok, out = self.with_estimate(bad, series)
            self.assertFalse(ok, "%r %r should fail:\n%s" % (bad, series, out))


if __name__ == "__main__":
    unittest.main(verbosity=1)
