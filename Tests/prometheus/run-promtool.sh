#!/usr/bin/env bash
# Check and unit-test the Prometheus rules with promtool:
#   promtool check rules config/prometheus/iommud.rules.yml
#   promtool test rules  config/prometheus/iommud.rules.test.yml
# Installs Debian's `prometheus` package (which ships promtool) when promtool is
# missing; CI runs as root on a fresh Debian 12.
# Usage: Tests/prometheus/run-promtool.sh        (from anywhere)
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
rules="$repo/config/prometheus/iommud.rules.yml"
tests="$repo/config/prometheus/iommud.rules.test.yml"

ensure_promtool() {
    command -v promtool >/dev/null 2>&1 && return 0
    echo "promtool not found: installing Debian's prometheus package"
    if [ "$(id -u)" -ne 0 ]; then
        echo "FAIL: promtool is missing and installing it needs root (apt-get install prometheus)" >&2
        return 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    local candidate
    candidate=$(apt-cache policy prometheus 2>/dev/null | awk '/Candidate:/ {print $2}')
    if [ -z "$candidate" ] || [ "$candidate" = "(none)" ]; then
        echo "+ apt-get update"
        apt-get update -qq || return 1
    fi
    echo "+ apt-get install -y --no-install-recommends prometheus"
    # policy-rc.d keeps the package's own prometheus.service from starting here
    local prc=/usr/sbin/policy-rc.d created=0
    if [ ! -e "$prc" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$prc" && chmod +x "$prc" && created=1
    fi
    apt-get install -y -qq --no-install-recommends prometheus >/dev/null
    local rc=$?
    [ "$created" = 1 ] && rm -f "$prc"
    [ $rc -eq 0 ] && command -v promtool >/dev/null 2>&1
}

ensure_promtool || { echo "FAIL: could not install promtool" >&2; exit 1; }
promtool --version 2>&1 | head -n 1

failed=0
run() {
    echo "+ $*"
    if "$@"; then
        echo "PASS: $*"
    else
        echo "FAIL: $*"
        failed=1
    fi
}

# promtool resolves rule_files relative to the test file.
run promtool check rules "$rules"
run promtool test rules "$tests"

if [ $failed -ne 0 ]; then
    echo "run-promtool: FAILED"
    exit 1
fi
echo "run-promtool: all passed"
