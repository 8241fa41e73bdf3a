#!/usr/bin/env bash
# build-image.sh BINARY ARCHIVE — the iommud container image, from the project's release binary and
# the host's Debian packages only (no base image: none can be pulled here, and none is needed).
#
#   root file system   /usr/bin/iommud (stripped, file capability cap_syslog=p), the shared
#                      libraries `ldd` names and the dynamic loader (copied from the Debian packages
#                      installed on this machine, with each package's copyright file), pci.ids for
#                      device names, /etc/passwd and /etc/group (iommud = uid 65532, primary group
#                      adm), the default /etc/iommud/iommud.toml, /var/lib/iommud (the state volume)
#                      and /run/iommud (the control socket), both owned by iommud; coreutils' chown
#                      as /usr/libexec/iommud/chown for the Kubernetes init container.
#   assembled by       buildah (Debian's), in a private store under a temporary directory, in the
#                      docker image format: the OCI image config has no HEALTHCHECK, and podman only
#                      honours the one of a docker-format image.
#   written as         a docker-archive (the `docker save` layout): `podman load -i ARCHIVE`,
#                      `docker load -i ARCHIVE`, `skopeo copy docker-archive:ARCHIVE docker://…`.
#
# Environment (mk/image.mk sets them): IMAGE_NAME (localhost/iommud:VERSION), VERSION, REVISION,
# SOURCE_DATE_EPOCH, IMAGE_SOURCE, IMAGE_LICENSES, DEFAULT_CONFIG, PCI_IDS. Needs root (buildah's
# store, file ownership and capabilities); re-runs itself with sudo when it can.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null && exec sudo --preserve-env=IMAGE_NAME,VERSION,REVISION,SOURCE_DATE_EPOCH,IMAGE_SOURCE,IMAGE_LICENSES,DEFAULT_CONFIG,PCI_IDS "$0" "$@"
	echo "$0 must run as root (buildah, chown, setcap)" >&2
	exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
BIN=$(realpath "${1:?usage: $0 BINARY ARCHIVE}")
OUT=$(realpath -m "${2:?usage: $0 BINARY ARCHIVE}")
VERSION=${VERSION:?VERSION is not set}
IMAGE_NAME=${IMAGE_NAME:-localhost/iommud:$VERSION}
REVISION=${REVISION:-unknown}
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(date +%s)}
IMAGE_SOURCE=${IMAGE_SOURCE:-local build (no git remote)}
IMAGE_LICENSES=${IMAGE_LICENSES:-LicenseRef-iommud-unlicensed}
DEFAULT_CONFIG=${DEFAULT_CONFIG:-$top/config/iommud.toml}
PCI_IDS=${PCI_IDS:-/usr/share/misc/pci.ids}
UID_IOMMUD=65532
GID_ADM=4 # Debian's adm: the control socket is 0660 group adm, as under systemd (Group=adm)

for tool in buildah setcap getcap strip ldd dpkg-query; do
	command -v "$tool" >/dev/null || { echo "build-image.sh: $tool is missing (scripts/install-deps.sh image installs it)" >&2; exit 2; }
done

tmp=$(mktemp -d /tmp/iommud-image.XXXXXX)
B=(buildah --root "$tmp/store" --runroot "$tmp/run" --storage-driver vfs)
ctr=
cleanup() {
	[ -n "$ctr" ] && "${B[@]}" rm "$ctr" >/dev/null 2>&1
	"${B[@]}" rmi --all --force >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
root=$tmp/root
umask 022

# --- the file system -------------------------------------------------------------------------
# merged /usr, as Debian 12 has it: the ELF interpreter is /lib64/ld-linux-x86-64.so.2
mkdir -p "$root"/usr/{bin,lib,lib64,share/doc} "$root"/etc/iommud "$root"/var/lib/iommud "$root"/run/iommud "$root"/tmp \
	"$root"/proc "$root"/sys "$root"/dev
ln -s usr/bin "$root/bin"
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"
chmod 1777 "$root/tmp"

# as dh_strip does (the .deb's binary is stripped the same way); .note sections stay
strip --strip-unneeded --remove-section=.comment -o "$root/usr/bin/iommud" "$BIN"
chmod 0755 "$root/usr/bin/iommud"
# Permitted, not effective: the daemon raises it itself (Sources/CLinux/capabilities.c), so a
# container without CAP_SYSLOG in its bounding set still starts and says why it cannot read.
setcap cap_syslog=p "$root/usr/bin/iommud"

# The libraries the binary needs and theirs (ldd follows DT_NEEDED recursively), at the paths
# Debian puts them (/lib → /usr/lib), plus the copyright file of the package each comes from.
pkgs=()
# The package that owns a file: dpkg knows Debian 12's files by the path in the package (/lib/…,
# /bin/…), not always by the one merged /usr makes them reachable at.
owner_package() { # PATH
	local p
	for p in "$1" "$(realpath "$1")" "${1#/usr}" "$(realpath "$1" | sed 's|^/usr||')"; do
		dpkg-query -S "$p" 2>/dev/null | head -n 1 | cut -d: -f1 | grep . && return 0
	done
	return 0
}
copy_lib() { # PATH as ldd prints it
	local src=$1 dest pkg
	dest=/usr${src#/usr}
	mkdir -p "$root$(dirname "$dest")"
	cp -L "$src" "$root$dest"
	pkg=$(owner_package "$src")
	[ -n "$pkg" ] && pkgs+=("$pkg")
}
# coreutils' chown, for the Kubernetes init container that hands the hostPath state directory
# (created by kubelet as root) to iommud: deploy/kubernetes/daemonset.yaml. Nothing else in the
# image but iommud is executable.
CHOWN=$(command -v chown)
install -D -m 0755 "$CHOWN" "$root/usr/libexec/iommud/chown"
pkg=$(owner_package "$CHOWN")
[ -n "$pkg" ] && pkgs+=("$pkg")
libs=$(ldd "$BIN" "$CHOWN" | awk '/=> \// { print $3 } /^[[:space:]]*\/[^ ]*ld-linux/ { print $1 }' | sort -u)
[ -n "$libs" ] || { echo "build-image.sh: ldd found no libraries in $BIN" >&2; exit 1; }
for l in $libs; do copy_lib "$l"; done

# Device names in iommu_device_info and `status` (optional: ids alone without it).
if [ -f "$PCI_IDS" ]; then
	mkdir -p "$root/usr/share/misc"
	cp "$PCI_IDS" "$root/usr/share/misc/pci.ids"
	pkg=$(owner_package "$PCI_IDS")
	[ -n "$pkg" ] && pkgs+=("$pkg")
else
	echo "note: $PCI_IDS not found: devices will be named by their ids only" >&2
fi
for p in $(printf '%s\n' "${pkgs[@]}" | sed 's/:.*//' | sort -u); do
	if [ -f "/usr/share/doc/$p/copyright" ]; then
		install -D -m 0644 "/usr/share/doc/$p/copyright" "$root/usr/share/doc/$p/copyright"
	fi
done
sed -e "s|@YEAR@|$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y)|" "$top/packaging/debian/copyright" \
	| install -D -m 0644 /dev/stdin "$root/usr/share/doc/iommud/copyright"

# Accounts: glibc ≥ 2.34 has the files NSS backend built in, so passwd and group are all
# `getgrnam("adm")` (the control socket) and `id` need.
cat >"$root/etc/passwd" <<EOF
root:x:0:0:root:/root:/usr/sbin/nologin
iommud:x:$UID_IOMMUD:$GID_ADM:iommud:/var/lib/iommud:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
cat >"$root/etc/group" <<EOF
root:x:0:
adm:x:$GID_ADM:iommud
iommud:x:$UID_IOMMUD:
nogroup:x:65534:
EOF
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
install -m 0644 "$DEFAULT_CONFIG" "$root/etc/iommud/iommud.toml"
# the state volume (a new named volume copies this owner and mode) and the control socket's
# directory (podman --read-only copies /run's image content into its tmpfs)
chown "$UID_IOMMUD:$GID_ADM" "$root/var/lib/iommud" "$root/run/iommud"
chmod 0750 "$root/var/lib/iommud"
chmod 0755 "$root/run/iommud"

# The root must run the binary on its own: nothing is missing from it. (Swift reads its arguments
# from /proc/self/cmdline: a proc of its own, in a mount namespace that ends with the command.)
if ! out=$(unshare --mount --propagation private --fork \
	sh -c 'mount -t proc proc "$0/proc" && exec chroot "$0" /usr/bin/iommud version' "$root" 2>&1); then
	echo "build-image.sh: the binary does not run in the image's root file system: $out" >&2
	exit 1
fi
echo "root file system: $(du -sh --apparent-size "$root" | cut -f1), $out"
[ "$(getcap "$root/usr/bin/iommud" | sed 's/.* //')" = "cap_syslog=p" ] ||
	{ echo "build-image.sh: setcap did not stick: $(getcap "$root/usr/bin/iommud")" >&2; exit 1; }

# --- the image -------------------------------------------------------------------------------
created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
ctr=$("${B[@]}" from --format docker scratch)
mnt=$("${B[@]}" mount "$ctr")
# cp -a keeps owners, modes and the security.capability xattr; buildah puts that xattr in the layer
cp -a "$root/." "$mnt/"
"${B[@]}" umount "$ctr" >/dev/null
"${B[@]}" config \
	--os linux --arch "$(dpkg --print-architecture)" \
	--user "$UID_IOMMUD:$GID_ADM" \
	--workingdir / \
	--env PATH=/usr/bin \
	--entrypoint '["/usr/bin/iommud"]' \
	--cmd '["run"]' \
	--port 10111/tcp \
	--volume /var/lib/iommud \
	--stop-signal SIGTERM \
	--healthcheck 'CMD /usr/bin/iommud status' \
	--healthcheck-interval 30s --healthcheck-timeout 5s --healthcheck-start-period 30s --healthcheck-retries 3 \
	--label org.opencontainers.image.title=iommud \
	--label "org.opencontainers.image.description=IOMMU / DMA-remapping fault exporter for Prometheus and journald" \
	--label "org.opencontainers.image.version=$VERSION" \
	--label "org.opencontainers.image.revision=$REVISION" \
	--label "org.opencontainers.image.created=$created" \
	--label "org.opencontainers.image.source=$IMAGE_SOURCE" \
	--label "org.opencontainers.image.licenses=$IMAGE_LICENSES" \
	"$ctr"
"${B[@]}" commit --quiet --format docker --timestamp "$SOURCE_DATE_EPOCH" --rm "$ctr" "$IMAGE_NAME" >/dev/null
ctr=
mkdir -p "$(dirname "$OUT")"
rm -f "$OUT"
"${B[@]}" push --quiet --format docker "$IMAGE_NAME" "docker-archive:$OUT:$IMAGE_NAME"
echo "built $OUT ($IMAGE_NAME, $(du -h --apparent-size "$OUT" | cut -f1))"
