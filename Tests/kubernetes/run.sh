#!/usr/bin/env bash
# run.sh — validates deploy/kubernetes/ (`make kubernetes`, a phase of `make test`):
#   1. the committed PrometheusRule is what deploy/kubernetes/gen-prometheusrule.py makes from
#      config/prometheus/iommud.rules.yml (fails on drift, with the diff);
#   2. Tests/kubernetes/validate.py: the built kustomizations against Kubernetes' schemas
#      (kubernetes-validate) and the vendored Prometheus Operator CRDs (jsonschema).
# The Python packages come from PyPI, pinned in requirements.txt, into a venv under .build/
# (reinstalled only when requirements.txt changes). No cluster and no kubectl needed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
venv=${KUBERNETES_VENV:-$top/.build/kubernetes-venv}
req=$here/requirements.txt
stamp=$venv/.requirements-$(sha256sum "$req" | cut -c1-16)
t0=$(date +%s.%N)

if [ ! -f "$stamp" ]; then
	echo "installing $(grep -c '^[a-zA-Z]' "$req") pinned packages into $venv (PyPI)"
	rm -rf "$venv"
	python3 -m venv "$venv"
	"$venv/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$req"
	touch "$stamp"
fi

rc=0
echo "=== PrometheusRule generated from the rules file"
"$venv/bin/python" "$top/deploy/kubernetes/gen-prometheusrule.py" --check || rc=1
echo "=== manifests"
"$venv/bin/python" "$here/validate.py" "$@" || rc=1
awk -v r="$([ $rc = 0 ] && echo PASS || echo FAIL)" -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "Tests/kubernetes: %s in %.1fs\n", r, b - a }'
exit $rc
