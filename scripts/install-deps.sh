#!/usr/bin/env bash
# install-deps.sh run|image|test — installs the Debian packages a target needs, only what is missing,
# with sudo when not root. `apt-get update` runs at most once, and only if a package has no
# install candidate (a fresh machine).
set -euo pipefail
want=(libsystemd-dev libcrypt-dev zlib1g-dev libzstd-dev pkg-config)
if [ "${1:-run}" = test ]; then
  # promtool and prometheus; QEMU, busybox and cpio for the real-kernel tests; systemd-container,
  # debootstrap, lintian, dpkg-dev (dpkg-shlibdeps) for the service and packaging tests; pci.ids
  # for names; curl for HTTP checks; python3-yaml for the dashboard check; openssl and
  # apache2-utils (htpasswd) for the web config tests' certificates and bcrypt hashes. The image
  # and its test (make image, Tests/container/): podman with runc (crun fails on hybrid cgroups
  # here), uidmap, CNI plugins and iptables for a published port, buildah to assemble the image,
  # libcap2-bin (setcap) for its file capability, bc; python3-venv for the pinned PyPI
  # validators of Tests/kubernetes/; gzip and zstd to compress the replay tests' logs, GNU time
  # for a process's peak RSS. (The fuzzers' sanitizer runtimes come with the Swift toolchain.)
  want+=(prometheus qemu-system-x86 busybox-static cpio systemd-container debootstrap lintian
         pci.ids curl python3-yaml dpkg-dev xz-utils file openssl apache2-utils
         podman runc uidmap containernetworking-plugins iptables buildah libcap2-bin bc python3-venv gzip zstd time)
fi
# `make image` alone: buildah to assemble it, setcap for the file capability, pci.ids for names.
if [ "${1:-run}" = image ]; then want+=(buildah libcap2-bin pci.ids); fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && { echo "all packages present: ${want[*]}"; exit 0; }
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
need_update=0
for p in "${missing[@]}"; do
  apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [0-9]' || need_update=1
done
if [ $need_update -eq 1 ]; then $SUDO apt-get update -q; fi
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
