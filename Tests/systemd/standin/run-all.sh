#!/bin/bash
# Tests/systemd against the C stand-in (no Swift build needed): proves the unit,
# packaging and sandbox mechanics. As root.   Tests/systemd/standin/run-all.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/iommud-standin-run.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
"$here/build.sh" "$tmp/iommud" >/dev/null || exit 2
# stand-ins for the files other parts of the project own
export MAKEVARS="CATALOG=$here/iommud.catalog DEFAULT_CONFIG=$here/iommud.toml"
"$here/../run-all.sh" "$tmp/iommud"
