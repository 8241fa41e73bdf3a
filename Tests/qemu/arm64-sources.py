#!/usr/bin/env python3
"""Derive a private arm64 APT source list from the host's own APT configuration.

Usage: arm64-sources.py [--arch ARCH] [--backports] OUTPUT_FILE [ETC_APT_DIR]

--arch: the architecture of the stanzas (default arm64). --backports: only the entries of
the release's own suite (the main archive), turned into its backports suite
(bookworm -> bookworm-backports): Debian's newer kernels, for the virtio-iommu scenario.

Reads ETC_APT_DIR/sources.list (one-line format) and ETC_APT_DIR/sources.list.d/*.list and
*.sources (deb822), keeps the enabled binary ("deb") entries whose suites belong to the host's
Debian release (the codename from /etc/os-release, e.g. bookworm, bookworm-updates,
bookworm-security), and writes them as deb822 stanzas with "Architectures: arm64".
Signed-By and other options are kept.  No mirror is named here: whatever the host uses is
used.  Exits 1 (with a message) when nothing usable is found.
"""
import glob
import os
import re
import sys


def codename():
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("VERSION_CODENAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return ""


def suite_ok(suite, code):
    return not code or suite == code or suite.startswith(code + "-") or suite.startswith(code + "/")


def parse_deb822(text):
    """Return a list of stanzas (list of (key, value) with multi-line values kept)."""
    stanzas, cur, key = [], [], None
    for raw in text.splitlines():
        if raw.startswith("#"):
            continue
        if not raw.strip():
            if cur:
                stanzas.append(cur)
            cur, key = [], None
            continue
        if raw[0] in " \t" and key is not None:
            k, v = cur[-1]
            cur[-1] = (k, v + "\n" + raw)
            continue
        if ":" in raw:
            key, val = raw.split(":", 1)
            cur.append((key.strip(), val.strip()))
    if cur:
        stanzas.append(cur)
    return stanzas


ARCH = "arm64"
BACKPORTS = False


def suites_for(suites, code):
    """The suites to keep: the release's own; with --backports its backports suite instead."""
    if BACKPORTS:
        return [code + "-backports"] if code in suites else []
    return [s for s in suites if suite_ok(s, code)]


def from_deb822(path, code):
    out = []
    with open(path) as f:
        for st in parse_deb822(f.read()):
            d = {k.lower(): (k, v) for k, v in st}
            if d.get("enabled", ("", "yes"))[1].lower() == "no":
                continue
            if "deb" not in d.get("types", ("", ""))[1].split():
                continue
            suites = suites_for(d.get("suites", ("", ""))[1].split(), code)
            if not suites or "uris" not in d:
                continue
            fields = [("Types", "deb"), ("URIs", d["uris"][1]), ("Suites", " ".join(suites)),
                      ("Components", d.get("components", ("", "main"))[1]), ("Architectures", ARCH)]
            skip = {"types", "uris", "suites", "components", "architectures", "enabled"}
            fields += [(k, v) for k, v in st if k.lower() not in skip]
            out.append(fields)
    return out


ONE_LINE = re.compile(r"^\s*deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$")
OPT_NAMES = {"signed-by": "Signed-By", "trusted": "Trusted", "check-valid-until": "Check-Valid-Until",
             "allow-insecure": "Allow-Insecure", "allow-weak": "Allow-Weak", "by-hash": "By-Hash"}


def from_one_line(path, code):
    out = []
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0]
            m = ONE_LINE.match(line)
            if not m:
                continue
            opts, uri, suite, comps = m.groups()
            suites = suites_for([suite], code)
            if not suites:
                continue
            fields = [("Types", "deb"), ("URIs", uri), ("Suites", suites[0]),
                      ("Components", comps.strip() or "main"), ("Architectures", ARCH)]
            for opt in (opts or "").split():
                if "=" not in opt:
                    continue
                k, v = opt.split("=", 1)
                if k.lower() in ("arch", "arch+", "arch-", "lang", "target"):
                    continue
                fields.append((OPT_NAMES.get(k.lower(), k), v.replace(",", " ")))
            out.append(fields)
    return out


def main():
    global ARCH, BACKPORTS
    args = sys.argv[1:]
    while args and args[0].startswith("--"):
        if args[0] == "--backports":
            BACKPORTS = True
            args = args[1:]
        elif args[0] == "--arch" and len(args) > 1:
            ARCH = args[1]
            args = args[2:]
        else:
            print(__doc__, file=sys.stderr)
            return 2
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    out_path = args[0]
    etc = args[1] if len(args) > 1 else "/etc/apt"
    code = codename()
    stanzas = []
    lists = [os.path.join(etc, "sources.list")] + sorted(glob.glob(os.path.join(etc, "sources.list.d", "*.list")))
    for p in lists:
        if os.path.isfile(p):
            stanzas += from_one_line(p, code)
    for p in sorted(glob.glob(os.path.join(etc, "sources.list.d", "*.sources"))):
        stanzas += from_deb822(p, code)
    if not stanzas:
        print(f"arm64-sources: no enabled 'deb' source for release '{code}' in {etc}", file=sys.stderr)
        return 1
    with open(out_path, "w") as f:
        for st in stanzas:
            for k, v in st:
                f.write(f"{k}: {v}\n")
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
