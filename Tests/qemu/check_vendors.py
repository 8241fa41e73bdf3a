"""The checks of Tests/qemu's scenarios for the IOMMUs other than Intel VT-d (check.py has the
parsing and the Intel scenarios): `smmuv3` (arm64, replayed on the host) and `virtio`
(virtio-iommu-pci on q35, the daemon in the guest). Same conventions as check.py: the truth
from what the kernel printed, the daemon's answers compared with it exactly.
"""
from collections import Counter

from check import (EDU, VIRTIO_EDU, Report, _exists, _sid, find_unit, guest_results, load_json, metric_faults,
                   msum, parse_interrupts, metrics_sections, parse_kmsg, parse_replay, parse_topology, read_text,
                   smmu_events, virtio_faults)


def check_smmuv3(d):
    rep = Report("smmuv3")
    secs, meta = guest_results(rep, d, tail_of="results.txt")
    if secs is None:
        return rep.done()
    rep.check("insmod pci-stub.ko ids=1234:11e8", "0", meta.get("rc_insmod"))
    topo = parse_topology(secs.get("topology", []))
    rep.check("topology: edu %s bound to pci-stub, in an iommu group" % EDU, (EDU, "pci-stub", True),
              (topo["edu"].get("device"), topo["edu"].get("driver", "").rsplit("/", 1)[-1] or None, bool(topo["edu"].get("group"))))
    recs = parse_kmsg(secs.get("kmsg-raw", []))
    events = smmu_events(recs)
    evq = (parse_interrupts(secs.get("interrupts-after", [])).get("arm-smmu-v3-evtq", 0)
           - parse_interrupts(secs.get("interrupts-before", [])).get("arm-smmu-v3-evtq", 0))
    rep.info("kernel", "%d SMMUv3 events in the raw kmsg, arm-smmu-v3-evtq interrupts +%d" % (len(events), evq))
    rep.check("kernel: F_TRANSLATION (0x10) sid 0x8, read of 0x1000 then write of 0xdead0000",
              [(0x10, 8, True, "0x1000"), (0x10, 8, False, "0xdead0000")],
              [(e["id"], e["sid"], e["read"], e["address"]) for e in events])
    rc = read_text(d + "/replay-host.rc").strip() if _exists(d + "/replay-host.rc") else None
    rep.check("host: `iommud replay --json` exit code", "0", rc)
    replay, errs = parse_replay(read_text(d + "/replay-host.json").split("\n") if _exists(d + "/replay-host.json") else [])
    rep.check("replay --json: every stdout line is a JSON object with the contract keys", [], errs)
    # The host replays without the guest's sysfs and device tree: nothing tells it which PCI
    # function StreamID 8 is, so no device is named (the guest's own daemon, with its
    # iommu-map, would name 00:01.0: Tests/IOMMUDaemonTests platform smmuv3-qemu).
    exp = [("arm-smmu-v3", "f-translation", "0x8", None, False, "read" if e["read"] else "write", e["address"]) for e in events]
    got = [(o.get("vendor"), o.get("kind"), _sid(o.get("sid")), o.get("device"), o.get("device_assumed"), o.get("access"),
            o.get("address")) for o in replay]
    rep.check("replay: vendor kind sid device device_assumed access address (no topology: the StreamID is no device)", exp, got)
    return rep.done()


def check_virtio(d):
    """virtio-iommu-pci on q35 (Debian's backports kernel): iommud in the guest counts the
    faults the kernel printed, names the unit after the virtio-iommu's PCI function, and names
    edu only because ACPI VIOT maps endpoint 16 to it."""
    rep = Report("virtio")
    secs, meta = guest_results(rep, d)
    if secs is None:
        return rep.done()
    rep.check("insmod virtio-iommu.ko, pci-stub.ko ids=1234:11e8", ("0", "0"),
              (meta.get("rc_insmod_viommu"), meta.get("rc_insmod")))
    unit = meta.get("viommu.unit")
    rep.check("the virtio-iommu is the PCI function 00:01.0 (its sysfs unit)", EDU, unit)
    rep.check("daemon answered /metrics", True, "daemon1_ready" in meta)
    if "end" not in secs or "daemon1_ready" not in meta:
        rep.info("daemon stderr", "\n           " + "\n           ".join(secs.get("daemon-stderr-1", [])[-20:]))
        return rep.done()
    topo = parse_topology(secs.get("topology", []))
    rep.check("topology: edu %s behind %s" % (VIRTIO_EDU, unit), (VIRTIO_EDU, unit),
              (topo["edu"].get("device"), topo["edu"].get("iommu", "").rsplit("/", 1)[-1] or None))
    recs = parse_kmsg(secs.get("kmsg-raw", []))
    truth = virtio_faults(recs)
    dmas = [l for l in secs.get("dmas", []) if l.strip()]
    rep.check("kernel: one `page fault from EP 16` per 4-byte DMA, at its IOVA",
              [("page-fault", 16, "0x1000"), ("page-fault", 16, "0xdead0000")],
              [(f["kind"], f["ep"], f["address"]) for f in truth])
    rep.check("kernel: DMAs done", 2, len(dmas))
    irq_before = parse_interrupts(secs.get("interrupts-before", [])).get("virtio0", 0)
    irq_after = parse_interrupts(secs.get("interrupts-after", [])).get("virtio0", 0)
    rep.check("kernel: the virtio0 line interrupted", True, irq_after > irq_before)
    samples, samples_before = metrics_sections(rep, secs)
    rep.check("exit codes: status --json, status, replay", ("0", "0", "0"),
              (meta.get("rc_status_json"), meta.get("rc_status"), meta.get("rc_replay")))
    rep.check("`iommud run` stops cleanly on SIGTERM (exit 0)", ("TERM", "0"),
              (meta.get("daemon1_stop.signal"), meta.get("daemon1_stop.rc")))
    exp = Counter()
    for f in truth:
        exp[(unit, VIRTIO_EDU, "virtio-iommu", f["kind"], "", "false")] += 1
    rep.check("iommu_faults_total{unit,device,vendor,kind,reason,recoverable}", exp, metric_faults(samples))
    rep.check("iommu_unit_faults_total{unit=\"%s\",recoverable=\"false\"}" % unit, len(truth),
              msum(samples, "iommu_unit_faults_total", unit=unit, recoverable="false"))
    m_after = msum(samples, "iommu_fault_interrupts_total", unit=unit, vector="shared")
    m_before = msum(samples_before, "iommu_fault_interrupts_total", unit=unit, vector="shared")
    rep.check("iommu_fault_interrupts_total{vector=\"shared\"} delta = /proc/interrupts virtio0 delta",
              irq_after - irq_before, None if m_after is None or m_before is None else int(m_after - m_before))
    status = load_json(rep, secs, "status-json")
    u = find_unit(status, unit)
    rep.check("status: unit %s is virtio-iommu with the faults logged" % unit, ("virtio-iommu", len(truth)),
              ((u or {}).get("vendor"), ((u or {}).get("faults") or {}).get("logged")))
    replay, errs = parse_replay(secs.get("replay-json", []))
    rep.check("replay --json: every stdout line is a JSON object with the contract keys", [], errs)
    rep.check("replay --json --sysfs /sys: seq vendor unit device kind sid address access recoverable "
              "device_assumed (EP 16 is edu through ACPI VIOT)",
              [(f["seq"], "virtio-iommu", unit, VIRTIO_EDU, f["kind"], "0x10", f["address"], f["access"], False, True)
               for f in truth],
              [(o.get("seq"), o.get("vendor"), o.get("unit"), o.get("device"), o.get("kind"), _sid(o.get("sid")),
                o.get("address"), o.get("access"), o.get("recoverable"), o.get("device_assumed")) for o in replay])
    return rep.done()
