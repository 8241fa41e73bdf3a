#!/usr/bin/env python3
"""Validate deploy/kubernetes/ as `kubectl apply -k` would send it (no kubectl or cluster needed).

1. Build each kustomization (the base and privileged/) with the subset of kustomize it uses:
   resources (files and directories), configMapGenerator (files; the name gets kustomize's
   content hash and the pod's reference follows), namespace, images, and JSON 6902 patches.
2. Validate every built-in object with kubernetes-validate, strictly (unknown fields are errors,
   as with `kubectl apply --validate=strict`), against every Kubernetes minor from MIN_VERSION to
   the newest it bundles.
3. Validate the Prometheus Operator objects (ServiceMonitor, PrometheusRule) with jsonschema
   against the openAPIV3Schema of the CRDs vendored in Tests/kubernetes/crds/, made strict the
   way the API server's strict field validation is: an object schema with `properties` and no
   x-kubernetes-preserve-unknown-fields takes no other field.
4. Check what schemas cannot: references resolve (volumes, ports, the ConfigMap, selectors), the
   security context the README promises, and the objects a DaemonSet of iommud needs.

    validate.py [DIR ...]        default: deploy/kubernetes and deploy/kubernetes/privileged
"""

import copy
import hashlib
from importlib import metadata
import json
import pathlib
import sys

import jsonschema
import kubernetes_validate
import yaml

HERE = pathlib.Path(__file__).resolve().parent
TOP = HERE.parent.parent
CRDS = HERE / "crds"
MIN_VERSION = (1, 30)
CLUSTER_SCOPED = {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "PriorityClass"}

failures = []


def fail(where, message):
    failures.append(f"{where}: {message}")
    print(f"FAIL {where}: {message}")


def ok(message):
    print(f"PASS {message}")


# --- a small kustomize -------------------------------------------------------------------------

def kustomize_hash(cm):
    """kustomize's name suffix for a generated ConfigMap (api/hasher: sha256 of Go's JSON of
    kind, name and data; the first 10 hex digits with 0 1 3 a e mapped to g h k m t)."""
    encoded = json.dumps({"data": cm["data"], "kind": "ConfigMap", "name": cm["metadata"]["name"]},
                         separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    encoded = encoded.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    digest = hashlib.sha256(encoded.encode()).hexdigest()[:10]
    return digest.translate(str.maketrans("013ae", "ghkmt"))


def json_pointer_parts(path):
    return [p.replace("~1", "/").replace("~0", "~") for p in path.lstrip("/").split("/")]


def apply_json6902(obj, ops, where):
    for op in ops:
        parts = json_pointer_parts(op["path"])
        parent = obj
        for p in parts[:-1]:
            parent = parent[int(p)] if isinstance(parent, list) else parent[p]
        last = parts[-1]
        kind = op["op"]
        if isinstance(parent, list):
            index = len(parent) if last == "-" else int(last)
            if kind == "add":
                parent.insert(index, op["value"])
            elif kind == "replace":
                parent[index] = op["value"]
            elif kind == "remove":
                del parent[index]
            else:
                raise SystemExit(f"{where}: patch op {kind} is not supported by validate.py")
        else:
            if kind in ("add", "replace"):
                if kind == "replace" and last not in parent:
                    raise SystemExit(f"{where}: replace of missing {op['path']}")
                parent[last] = op["value"]
            elif kind == "remove":
                del parent[last]
            else:
                raise SystemExit(f"{where}: patch op {kind} is not supported by validate.py")


def build(directory):
    directory = pathlib.Path(directory)
    k = yaml.safe_load((directory / "kustomization.yaml").read_text())
    known = {"apiVersion", "kind", "namespace", "resources", "configMapGenerator", "images", "patches"}
    unknown = set(k) - known
    if unknown:
        raise SystemExit(f"{directory}/kustomization.yaml uses {sorted(unknown)}, which validate.py does not build")
    objects = []
    for r in k.get("resources", []):
        p = directory / r
        if p.is_dir():
            objects += build(p)
        else:
            objects += [d for d in yaml.safe_load_all(p.read_text()) if d]
    renamed = {}
    for g in k.get("configMapGenerator", []):
        data = {}
        for f in g.get("files", []):
            key, _, path = f.partition("=") if "=" in f else (pathlib.Path(f).name, "", f)
            data[key] = (directory / path).read_text()
        for literal in g.get("literals", []):
            key, _, value = literal.partition("=")
            data[key] = value
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": g["name"]}, "data": data}
        if not g.get("options", {}).get("disableNameSuffixHash"):
            cm["metadata"]["name"] = f"{g['name']}-{kustomize_hash(cm)}"
            renamed[g["name"]] = cm["metadata"]["name"]
        objects.append(cm)
    for o in objects:  # name references from pods to generated ConfigMaps
        for spec in pod_specs(o):
            for v in spec.get("volumes", []):
                if "configMap" in v and v["configMap"].get("name") in renamed:
                    v["configMap"]["name"] = renamed[v["configMap"]["name"]]
    for patch in k.get("patches", []):
        target = patch.get("target", {})
        ops = yaml.safe_load(patch["patch"])
        hits = [o for o in objects
                if all(o.get(f) == target[f] for f in ("kind",) if f in target)
                and ("name" not in target or o["metadata"]["name"] == target["name"])]
        if not hits:
            raise SystemExit(f"{directory}: patch target {target} matches nothing")
        for o in hits:
            apply_json6902(o, ops, f"{directory}/kustomization.yaml")
    if "namespace" in k:
        for o in objects:
            if o["kind"] not in CLUSTER_SCOPED:
                o["metadata"]["namespace"] = k["namespace"]
            elif o["kind"] == "Namespace":
                o["metadata"]["name"] = k["namespace"]
    for image in k.get("images", []):
        for o in objects:
            for spec in pod_specs(o):
                for c in spec.get("containers", []) + spec.get("initContainers", []):
                    name, _, tag = c["image"].rpartition(":") if ":" in c["image"].split("/")[-1] else (c["image"], "", "")
                    if name == image["name"]:
                        c["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}"
    return objects


def pod_specs(o):
    if o.get("kind") in ("DaemonSet", "Deployment", "StatefulSet", "Job"):
        return [o["spec"]["template"]["spec"]]
    if o.get("kind") == "Pod":
        return [o["spec"]]
    return []


# --- schemas -----------------------------------------------------------------------------------

def strict_schema(schema):
    """The CRD schema with additionalProperties: false wherever the API server would reject an
    unknown field under strict field validation."""
    s = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if (node.get("type") == "object" and "properties" in node
                    and not node.get("x-kubernetes-preserve-unknown-fields")
                    and "additionalProperties" not in node):
                node["additionalProperties"] = False
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(s)
    # apiVersion, kind and metadata are the API server's business, not the CRD's schema
    s.setdefault("properties", {}).setdefault("apiVersion", {"type": "string"})
    s["properties"].setdefault("kind", {"type": "string"})
    s["properties"]["metadata"] = {"type": "object"}
    return s


def crd_schemas():
    schemas = {}
    for f in sorted(CRDS.glob("*.yaml")):
        crd = yaml.safe_load(f.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for v in crd["spec"]["versions"]:
            schemas[(f"{group}/{v['name']}", kind)] = (strict_schema(v["schema"]["openAPIV3Schema"]), f.name)
    return schemas


def k8s_versions():
    have = sorted({tuple(int(x) for x in v.split(".")[:2]) for v in kubernetes_validate.utils.all_versions()})
    return [f"{a}.{b}.0" for a, b in have if (a, b) >= MIN_VERSION]


def validate_objects(label, objects, schemas, versions):
    for o in objects:
        where = f"{label}: {o['kind']}/{o['metadata'].get('name')}"
        key = (o["apiVersion"], o["kind"])
        if key in schemas:
            schema, source = schemas[key]
            errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(o), key=lambda e: list(e.path))
            if errors:
                for e in errors:
                    fail(where, f"{'.'.join(map(str, e.path)) or '(top)'}: {e.message} (CRD {source})")
            else:
                ok(f"{where} valid against CRD {source} (strict)")
            continue
        bad = []
        for v in versions:
            try:
                kubernetes_validate.validate(o, v, strict=True)
            except kubernetes_validate.ValidationError as e:
                bad.append(f"Kubernetes {v}: {'.'.join(map(str, e.path)) or '(top)'}: {e.message}")
            except kubernetes_validate.SchemaNotFoundError:
                bad.append(f"Kubernetes {v}: no schema for {o['apiVersion']} {o['kind']}")
        if bad:
            for b in bad[:3]:
                fail(where, b)
        else:
            ok(f"{where} valid (strict) for Kubernetes {versions[0]}–{versions[-1]}")


# --- what schemas cannot see -------------------------------------------------------------------

def check_references(label, objects, privileged):
    by_kind = {}
    for o in objects:
        by_kind.setdefault(o["kind"], []).append(o)
    def expect(cond, message):
        if cond:
            ok(f"{label}: {message}")
        else:
            fail(label, message)

    expect(len(by_kind.get("Namespace", [])) == 1, "one Namespace")
    ns = by_kind["Namespace"][0]["metadata"]["name"]
    expect(all(o["metadata"].get("namespace") == ns for o in objects if o["kind"] not in CLUSTER_SCOPED),
           f"every namespaced object is in namespace {ns}")
    ds = by_kind.get("DaemonSet", [None])[0]
    expect(ds is not None, "a DaemonSet")
    if ds is None:
        return
    spec = ds["spec"]["template"]["spec"]
    tmpl_labels = ds["spec"]["template"]["metadata"].get("labels", {})
    expect(all(tmpl_labels.get(k) == v for k, v in ds["spec"]["selector"]["matchLabels"].items()),
           "the DaemonSet's selector matches its pod template")
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    configmaps = {o["metadata"]["name"] for o in by_kind.get("ConfigMap", [])}
    main = next(c for c in spec["containers"] if c["name"] == "iommud")
    for c in spec["containers"] + spec.get("initContainers", []):
        for m in c.get("volumeMounts", []):
            expect(m["name"] in volumes, f"container {c['name']} mounts volume {m['name']}, which exists")
    for v in volumes.values():
        if "configMap" in v:
            expect(v["configMap"]["name"] in configmaps,
                   f"volume {v['name']} names ConfigMap {v['configMap']['name']}, which the build generates")
    ports = {p["name"]: p["containerPort"] for p in main.get("ports", [])}
    for probe, path in (("livenessProbe", "/-/healthy"), ("readinessProbe", "/-/ready")):
        p = main.get(probe, {}).get("httpGet", {})
        expect(p.get("path") == path and p.get("port") in ports, f"{probe} is GET {path} on a named port")
    hostpaths = {v["hostPath"]["path"]: (v["name"], v["hostPath"].get("type")) for v in volumes.values() if "hostPath" in v}
    mounts = {m["name"]: m for m in main["volumeMounts"]}
    for path, typ, ro in (("/dev/kmsg", "CharDevice", True), ("/sys", "Directory", True),
                          ("/proc/interrupts", "File", True), ("/var/lib/iommud", "DirectoryOrCreate", False)):
        name, t = hostpaths.get(path, (None, None))
        expect(name is not None and t == typ and bool(mounts.get(name, {}).get("readOnly")) == ro,
               f"hostPath {path} ({typ}) mounted {'read-only' if ro else 'read-write'}")
    config_text = next(iter(o["data"]["iommud.toml"] for o in by_kind.get("ConfigMap", [])), "")
    for name, setting in (("sys", 'sysfs = "%s"'), ("interrupts", 'interrupts = "%s"')):
        target = mounts.get(name, {}).get("mountPath", "?")
        expect(setting % target in config_text, f"iommud.toml reads {name} where it is mounted ({target})")
    sc = main.get("securityContext", {})
    pod_sc = spec.get("securityContext", {})
    expect(sc.get("runAsNonRoot") is True and pod_sc.get("runAsUser", 0) != 0, "the daemon runs as non-root")
    expect(sc.get("readOnlyRootFilesystem") is True, "read-only root file system")
    if privileged:
        expect(sc.get("privileged") is True and sc.get("allowPrivilegeEscalation") is True,
               "privileged variant: privileged (the device cgroup), allowPrivilegeEscalation true as the API requires")
    else:
        expect(sc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation: false")
        expect(sc.get("capabilities") == {"drop": ["ALL"], "add": ["SYSLOG"]}, "capabilities: drop ALL, add SYSLOG")
        expect(not sc.get("privileged"), "not privileged")
    expect(not spec.get("hostNetwork") and not spec.get("hostPID"), "no hostNetwork, no hostPID")
    expect({"operator": "Exists"} in spec.get("tolerations", []), "tolerates every taint (runs on every node)")
    version = next((line.split('"')[1] for line in (TOP / "Sources/IOMMUDaemon/System/Version.swift").read_text().splitlines()
                    if "static let version" in line), "?")
    images = {c["image"] for c in spec["containers"] + spec.get("initContainers", [])}
    expect(all(i.endswith(f":{version}") for i in images),
           f"the pods run the image of this version, {version} ({', '.join(sorted(images))})")
    res = main.get("resources", {})
    expect(all(res.get(k, {}).get(r) for k in ("requests", "limits") for r in ("cpu", "memory")),
           "cpu and memory requests and limits")
    svc = by_kind.get("Service", [None])[0]
    expect(svc is not None and svc["spec"].get("clusterIP") == "None", "a headless Service")
    if svc:
        expect(all(tmpl_labels.get(k) == v for k, v in svc["spec"]["selector"].items()),
               "the Service selects the DaemonSet's pods")
        expect(all(p["targetPort"] in ports for p in svc["spec"]["ports"]), "the Service's targetPort is a named port")
        sm = by_kind.get("ServiceMonitor", [None])[0]
        expect(sm is not None, "a ServiceMonitor")
        if sm:
            labels = svc["metadata"].get("labels", {})
            expect(all(labels.get(k) == v for k, v in sm["spec"]["selector"]["matchLabels"].items()),
                   "the ServiceMonitor selects the Service")
            svc_ports = {p["name"] for p in svc["spec"]["ports"]}
            expect(all(e["port"] in svc_ports for e in sm["spec"]["endpoints"]),
                   "the ServiceMonitor's endpoint port is a port of the Service")
    rules = by_kind.get("PrometheusRule", [])
    source = yaml.safe_load((TOP / "config/prometheus/iommud.rules.yml").read_text())
    expect(len(rules) == 1 and rules[0]["spec"]["groups"] == source["groups"],
           "the PrometheusRule carries config/prometheus/iommud.rules.yml's groups")


def negative_controls(objects, schemas, versions):
    """The validation must see a mistake: three planted ones, each must be reported."""
    global failures
    planted = [
        ("DaemonSet", "an unknown pod field", lambda o: o["spec"]["template"]["spec"].__setitem__("tolerationz", [])),
        ("DaemonSet", "a string where an integer goes",
         lambda o: o["spec"]["template"]["spec"]["containers"][0]["ports"][0].__setitem__("containerPort", "10111")),
        ("ServiceMonitor", "an unknown endpoint field", lambda o: o["spec"]["endpoints"][0].__setitem__("intervall", "30s")),
        ("PrometheusRule", "a rule without expr", lambda o: o["spec"]["groups"][0]["rules"][0].pop("expr")),
    ]
    for kind, what, plant in planted:
        o = copy.deepcopy(next(x for x in objects if x["kind"] == kind))
        plant(o)
        saved, failures = failures, []
        quiet = sys.stdout
        sys.stdout = open("/dev/null", "w")
        try:
            validate_objects("control", [o], schemas, versions[-1:])
        finally:
            sys.stdout.close()
            sys.stdout = quiet
        caught, failures = bool(failures), saved
        if caught:
            ok(f"negative control: {kind} with {what} is reported")
        else:
            fail("negative control", f"{kind} with {what} passed validation")


def main(argv):
    dirs = argv or [str(TOP / "deploy/kubernetes"), str(TOP / "deploy/kubernetes/privileged")]
    schemas = crd_schemas()
    versions = k8s_versions()
    print(f"kubernetes-validate {metadata.version('kubernetes-validate')} (Kubernetes {versions[0]}–{versions[-1]}), "
          f"jsonschema {metadata.version('jsonschema')}, "
          f"CRDs: {', '.join(sorted({s for _, s in schemas.values()}))}")
    for d in dirs:
        label = str(pathlib.Path(d).resolve().relative_to(TOP))
        objects = build(d)
        print(f"--- {label}: {len(objects)} objects: " + ", ".join(f"{o['kind']}/{o['metadata']['name']}" for o in objects))
        validate_objects(label, objects, schemas, versions)
        check_references(label, objects, privileged=pathlib.Path(d).name == "privileged")
        if d == dirs[0]:
            negative_controls(objects, schemas, versions)
    if failures:
        print(f"\n{len(failures)} failure(s)")
        return 1
    print("\nall manifests valid")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
