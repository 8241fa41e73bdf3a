#!/bin/sh
# Build the C stand-in for iommud: build.sh OUTPUT   (needs gcc, libsystemd-dev, pkg-config)
set -eu
here=$(dirname "$0")
out=${1:-/tmp/iommud-standin}
# the same hardening flags a Debian package build would use, so lintian judges the
# packaging, not the stand-in's compiler flags
# hardening=+all adds bindnow/PIE like a hardened package build
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
CFLAGS=$(dpkg-buildflags --get CFLAGS 2>/dev/null || echo -O2)
CPPFLAGS=$(dpkg-buildflags --get CPPFLAGS 2>/dev/null || true)
LDFLAGS=$(dpkg-buildflags --get LDFLAGS 2>/dev/null || true)
# shellcheck disable=SC2086
gcc $CPPFLAGS $CFLAGS -Wall -Wextra -Wno-unused-result -o "$out" "$here/iommud-standin.c" $LDFLAGS $(pkg-config --libs libsystemd)
echo "$out"
