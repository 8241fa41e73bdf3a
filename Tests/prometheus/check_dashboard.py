#!/usr/bin/env python3
"""Check that the Grafana dashboard and the Prometheus rules use only real metrics.

usage: check_dashboard.py DASHBOARD.json RULES.yml METRICS_FILE [METRICS_FILE ...]
       check_dashboard.py --self-test

Fails (exit 1) unless
  * DASHBOARD is valid JSON with panels, unique panel ids, and every $variable its
    queries use is defined in its templating list (or is a Grafana built-in);
  * every PromQL expression in the dashboard (panel targets, also inside collapsed
    rows, and templating queries such as label_values(metric, label)) names only
    metrics that appear in one of the METRICS_FILEs (Prometheus text exposition,
    e.g. a real `curl http://HOST:10111/metrics`), are recording rules defined in
    RULES, or are Prometheus built-ins (up, scrape_*, ALERTS, ...);
  * every record/alert expression in RULES, and every PromQL query that an
    annotation template runs (`query "..."`, printf `...` | query), does the same.
Exit 2 on bad usage or unreadable input. Python 3 standard library, plus PyYAML
for RULES (a tiny fallback reads `expr:` lines when PyYAML is missing).
"""

import json
import re
import sys

FUNCTIONS = {
    "abs", "absent", "absent_over_time", "acos", "acosh", "asin", "asinh", "atan",
    "atanh", "avg_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min",
    "cos", "cosh", "count_over_time", "day_of_month", "day_of_week", "day_of_year",
    "days_in_month", "deg", "delta", "deriv", "exp", "floor", "histogram_count",
    "histogram_fraction", "histogram_quantile", "histogram_sum", "holt_winters",
    "hour", "idelta", "increase", "irate", "label_join", "label_replace",
    "last_over_time", "ln", "log10", "log2", "max_over_time", "min_over_time",
    "minute", "month", "pi", "predict_linear", "present_over_time",
    "quantile_over_time", "rad", "rate", "resets", "round", "scalar", "sgn", "sin",
    "sinh", "sort", "sort_desc", "sqrt", "stddev_over_time", "stdvar_over_time",
    "sum_over_time", "tan", "tanh", "time", "timestamp", "vector", "year",
    # @ modifier
    "start", "end",
}
AGGREGATIONS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count",
    "count_values", "bottomk", "topk", "quantile",
}
# keywords followed by a parenthesised label list
LABEL_LIST_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
KEYWORDS = LABEL_LIST_KEYWORDS | {"offset", "bool", "and", "or", "unless", "atan2"}
NUMBER_WORDS = {"inf", "nan"}
BUILTIN_METRICS = {
    "up", "scrape_duration_seconds", "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling", "scrape_series_added",
    "scrape_timeout_seconds", "scrape_sample_limit", "scrape_body_size_bytes",
    "ALERTS", "ALERTS_FOR_STATE",
}
GRAFANA_BUILTIN_VARS = {
    "__interval", "__interval_ms", "__rate_interval", "__rate_interval_ms",
    "__range", "__range_s", "__range_ms", "__from", "__to", "__dashboard",
    "__name", "__org", "__user", "__timeFilter", "timeFilter", "__auto", "__all",
}

IDENT_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
NUMBER_RE = re.compile(r"(?:0[xX][0-9a-fA-F]+|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)[a-zA-Z0-9_]*")
GRAFANA_VAR_RE = re.compile(r"\$\{([a-zA-Z0-9_]+)(?::[^}]*)?\}|\$([a-zA-Z_][a-zA-Z0-9_]*)|\[\[([a-zA-Z0-9_]+)(?::[^\]]*)?\]\]")


class PromQLError(Exception):
    pass


def grafana_vars(expr):
    """Names of the Grafana variables an expression refers to."""
    return {a or b or c for a, b, c in GRAFANA_VAR_RE.findall(expr)}


def strip_grafana_vars(expr):
    """Replace Grafana variables by `1`: inside strings and [ ] any text does, elsewhere
    (topk($n, ...)) a number keeps the expression parseable."""
    return GRAFANA_VAR_RE.sub("1", expr)


def _skip_string(s, i):
    q = s[i]
    j = i + 1
    while j < len(s):
        if s[j] == "\\" and q != "`":
            j += 2
            continue
        if s[j] == q:
            return j + 1, s[i + 1:j]
        j += 1
    raise PromQLError("unterminated string at offset %d" % i)


def _next_nonspace(s, i):
    while i < len(s) and s[i].isspace():
        i += 1
    return i


def _skip_parens(s, i):
    """s[i] == '(' : return the index after the matching ')'."""
    depth = 0
    while i < len(s):
        c = s[i]
        if c in "\"'`":
            i, _ = _skip_string(s, i)
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise PromQLError("unbalanced '('")


def _label_matchers(s, i):
    """s[i] == '{' : return (index after '}', metric names from __name__="..." matchers)."""
    names = []
    j = i + 1
    while True:
        j = _next_nonspace(s, j)
        if j >= len(s):
            raise PromQLError("unterminated '{'")
        if s[j] == "}":
            return j + 1, names
        if s[j] == ",":
            j += 1
            continue
        m = IDENT_RE.match(s, j)
        if m:
            label = m.group(0)
        elif s[j] in "\"'`":  # quoted label name (newer Prometheus)
            j2, label = _skip_string(s, j)
            m = None
            j = j2
        else:
            raise PromQLError("bad label matcher at offset %d" % j)
        if m:
            j = m.end()
        j = _next_nonspace(s, j)
        op = re.match(r"=~|!~|!=|=", s[j:])
        if not op:
            raise PromQLError("bad label matcher operator at offset %d" % j)
        j = _next_nonspace(s, j + len(op.group(0)))
        if j >= len(s) or s[j] not in "\"'`":
            raise PromQLError("label value must be a string at offset %d" % j)
        j, value = _skip_string(s, j)
        if label == "__name__":
            if op.group(0) == "=":
                names.append(value)
            else:
                names.append("__name__%s%r" % (op.group(0), value))


def metric_names(expr):
    """Metric names that a PromQL expression selects (order kept, no duplicates).

    Raises PromQLError for unknown functions and unbalanced syntax."""
    s = strip_grafana_vars(expr)
    names = []
    i = 0
    depth = {"(": 0, "[": 0}
    while i < len(s):
        c = s[i]
        if c.isspace():
            i += 1
        elif c == "#":
            while i < len(s) and s[i] != "\n":
                i += 1
        elif c in "\"'`":
            i, _ = _skip_string(s, i)
        elif c == "{":
            i, found = _label_matchers(s, i)
            names.extend(found)
        elif c == "[":
            j = s.find("]", i)
            if j < 0:
                raise PromQLError("unterminated '['")
            i = j + 1
        elif c == "]" or c == "}":
            raise PromQLError("unbalanced %r at offset %d" % (c, i))
        elif c == "(":
            depth["("] += 1
            i += 1
        elif c == ")":
            depth["("] -= 1
            if depth["("] < 0:
                raise PromQLError("unbalanced ')' at offset %d" % i)
            i += 1
        elif c.isdigit() or (c == "." and i + 1 < len(s) and s[i + 1].isdigit()):
            m = NUMBER_RE.match(s, i)
            i = m.end()
        elif c.isalpha() or c in "_:":
            m = IDENT_RE.match(s, i)
            word = m.group(0)
            i = m.end()
            j = _next_nonspace(s, i)
            nxt = s[j] if j < len(s) else ""
            low = word.lower()
            if low in KEYWORDS:
                if low in LABEL_LIST_KEYWORDS and nxt == "(":
                    i = _skip_parens(s, j)
                continue
            if low in NUMBER_WORDS:
                continue
            if nxt == "(":
                if word in FUNCTIONS or word in AGGREGATIONS:
                    continue
                raise PromQLError("unknown function %s()" % word)
            if word in AGGREGATIONS and re.match(r"(by|without)\b", s[j:]):
                continue  # sum by (x) (...)
            names.append(word)
        else:
            i += 1  # operators, commas, @
    if depth["("] != 0:
        raise PromQLError("unbalanced '('")
    seen, out = set(), []
    for n in names:
        if n not in seen:
            seen.add(n)
            out.append(n)
    return out


def _split_top_level_comma(s):
    """Split 'a, b' at the last top-level comma; None when there is none."""
    depth = 0
    last = None
    i = 0
    while i < len(s):
        c = s[i]
        if c in "\"'`":
            i, _ = _skip_string(s, i)
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth == 0:
            last = i
        i += 1
    if last is None:
        return None
    return s[:last], s[last + 1:]


def templating_promql(query):
    """The PromQL inside a Grafana Prometheus variable query, or None."""
    q = query.strip()
    m = re.match(r"^(label_values|query_result|metrics|label_names)\s*\((.*)\)\s*$", q, re.S)
    if not m:
        return q or None
    fn, args = m.group(1), m.group(2)
    if fn == "query_result":
        return args
    if fn == "label_values":
        parts = _split_top_level_comma(args)
        return parts[0] if parts else None  # label_values(label): no metric
    return None  # metrics(regex), label_names()


# ----------------------------------------------------------------- inputs

def exposition_names(path):
    names = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            if line.startswith("#"):
                parts = line.split()
                if len(parts) >= 4 and parts[1] == "TYPE":
                    name, typ = parts[2], parts[3]
                    names.add(name)
                    if typ in ("histogram", "gaugehistogram"):
                        names.update({name + "_bucket", name + "_sum", name + "_count",
                                      name + "_gcount", name + "_gsum", name + "_created"})
                    elif typ == "summary":
                        names.update({name + "_sum", name + "_count", name + "_created"})
                    elif typ == "counter":
                        names.update({name + "_total", name + "_created"})
                continue
            m = IDENT_RE.match(line)
            if m:
                names.add(m.group(0))
    return names


def load_rules(path):
    """[(where, expr)], {recording rule names}, [(where, annotation-query)]."""
    text = open(path, encoding="utf-8").read()
    exprs, records, queries = [], set(), []
    try:
        import yaml
    except ImportError:
        yaml = None
    if yaml is None:
        for n, line in enumerate(text.splitlines(), 1):
            m = re.match(r"\s*-?\s*record:\s*(\S+)", line)
            if m:
                records.add(m.group(1))
            m = re.match(r"\s*expr:\s*(.+)$", line)
            if m and m.group(1).strip() not in ("|", ">", "|-", ">-"):
                exprs.append(("%s:%d" % (path, n), m.group(1).strip()))
        return exprs, records, queries
    doc = yaml.safe_load(text) or {}
    for g in doc.get("groups") or []:
        for r in g.get("rules") or []:
            name = r.get("record") or r.get("alert") or "?"
            kind = "record" if "record" in r else "alert"
            if kind == "record":
                records.add(r["record"])
            exprs.append(("rules %s %s (group %s)" % (kind, name, g.get("name")), str(r.get("expr", ""))))
            for field in ("annotations", "labels"):
                for key, tmpl in (r.get(field) or {}).items():
                    for q in annotation_queries(str(tmpl)):
                        queries.append(("rules alert %s %s.%s query" % (name, field, key), q))
    return exprs, records, queries


def annotation_queries(tmpl):
    """PromQL that a Go alert template runs through `query`."""
    out = []
    for action in re.findall(r"\{\{(.*?)\}\}", tmpl, re.S):
        if not re.search(r"\bquery\b", action):
            continue
        # the string right after `query` (query "...") or after `printf` in a
        # pipeline that ends in query (printf `...` args | query)
        for m in re.finditer(r'\b(query|printf)\s+(?:"((?:[^"\\]|\\.)*)"|`([^`]*)`)', action):
            q = m.group(2) if m.group(2) is not None else m.group(3)
            if m.group(2) is not None:
                q = q.encode().decode("unicode_escape")
            out.append(re.sub(r"%(\[\d+\])?[-+# 0-9.]*[svdqfg]", "x", q))
    return out


def walk_panels(panels):
    for p in panels or []:
        yield p
        yield from walk_panels(p.get("panels"))


def dashboard_exprs(dash, problems):
    """[(where, expr)] and the variables each uses; records structural problems."""
    exprs = []
    if not isinstance(dash, dict):
        problems.append("dashboard: top level is not a JSON object")
        return exprs
    for key in ("title", "uid", "panels", "schemaVersion"):
        if key not in dash:
            problems.append("dashboard: missing top-level %r" % key)
    ids = {}
    defined_vars = set()
    for v in (dash.get("templating") or {}).get("list") or []:
        defined_vars.add(v.get("name"))
        if v.get("type") == "query":
            q = v.get("query")
            if isinstance(q, dict):
                q = q.get("query", "")
            promql = templating_promql(q or v.get("definition", "") or "")
            if promql:
                exprs.append(("templating variable $%s" % v.get("name"), promql))
    for inp in dash.get("__inputs") or []:
        defined_vars.add(inp.get("name"))
    count = 0
    for p in walk_panels(dash.get("panels")):
        count += 1
        pid = p.get("id")
        title = p.get("title", "")
        if pid is None:
            problems.append("dashboard: panel %r has no id" % title)
        elif pid in ids:
            problems.append("dashboard: panel id %s used by %r and %r" % (pid, ids[pid], title))
        else:
            ids[pid] = title
        if p.get("type") != "row" and "gridPos" not in p:
            problems.append("dashboard: panel %s %r has no gridPos" % (pid, title))
        for t in p.get("targets") or []:
            e = t.get("expr")
            if e is None:
                continue
            exprs.append(("dashboard panel %s %r target %s" % (pid, title, t.get("refId", "?")), e))
    if count == 0:
        problems.append("dashboard: no panels")
    # every $variable used anywhere must exist
    blob = json.dumps(dash)
    for name in sorted(grafana_vars(blob)):
        if name not in defined_vars and name not in GRAFANA_BUILTIN_VARS:
            problems.append("dashboard: uses undefined variable $%s" % name)
    return exprs


# --------------------------------------------------------------- self-test

def self_test():
    cases = [
        ('sum by (instance, unit) (rate(iommu_unit_faults_total{instance=~"$instance",unit!=""}[$__rate_interval]))',
         ["iommu_unit_faults_total"]),
        ('(a unless a offset 10m) or increase(a[10m]) > 0', ["a"]),
        ('x * on (instance, job, device) group_left (unit, driver) topk by (device) (1, info{driver="vfio-pci"})',
         ["x", "info"]),
        ('sum(rate(x[5m])) by (job) / ignoring(code) group_right sum without(a)(y) and bool z', ["x", "y", "z"]),
        ('{__name__="foo", job="a"} + bar @ start() - baz offset -1h30m', ["foo", "bar", "baz"]),
        ('label_replace(up, "dst", "$1", "src", "(.*)") == Inf', ["up"]),
        ('histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m:1m])))  # comment ident', ["h_bucket"]),
        ('time() - iommud_checkpoint_last_success_timestamp_seconds > 3e2', ["iommud_checkpoint_last_success_timestamp_seconds"]),
        ('count_values("version", iommud_build_info) or vector(0x1F)', ["iommud_build_info"]),
        ('unit:iommu_unit_faults:rate5m', ["unit:iommu_unit_faults:rate5m"]),
        ('max_over_time(m{mode="translated"}[7d]) == 1 and on(instance) NaN', ["m"]),
        ('topk($topn, sum by (device) (increase(f[$__range])))', ["f"]),
        ('rate(foo{a="}{[(\\"x"}[5m])', ["foo"]),
    ]
    bad = ['sum(rate(x[5m])', 'label_values(up, job)', 'foo{a="b"', 'x{a=b}']
    ok = True
    for expr, want in cases:
        try:
            got = metric_names(expr)
        except PromQLError as e:
            got = "error: %s" % e
        if got != want:
            ok = False
            print("self-test FAIL: %s\n    want %s\n    got  %s" % (expr, want, got))
    for expr in bad:
        try:
            metric_names(expr)
            ok = False
            print("self-test FAIL: expected a syntax error for %s" % expr)
        except PromQLError:
            pass
    tv = [("label_values(iommud_build_info{job=~\"$job\"}, instance)", 'iommud_build_info{job=~"$job"}'),
          ("label_values(instance)", None), ("query_result(topk(5, x))", "topk(5, x)"),
          ("metrics(iommu_.*)", None)]
    for q, want in tv:
        got = templating_promql(q)
        if (got or None) != want and (got or "").strip() != want:
            ok = False
            print("self-test FAIL: templating %s -> %r, want %r" % (q, got, want))
    aq = annotation_queries('{{ range printf `sum(x{instance="%[1]s"})` $labels.instance | query }}{{ end }} '
                            '{{ with query "up{job=\\"a\\"}" }}{{ . }}{{ end }} {{ $labels.unit }}')
    if aq != ['sum(x{instance="x"})', 'up{job="a"}']:
        ok = False
        print("self-test FAIL: annotation queries %r" % aq)
    print("self-test: %s" % ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


# --------------------------------------------------------------------- main

def main(argv):
    if len(argv) == 2 and argv[1] == "--self-test":
        return self_test()
    if len(argv) < 4 or argv[1] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    dash_path, rules_path, metric_files = argv[1], argv[2], argv[3:]
    problems = []
    try:
        with open(dash_path, encoding="utf-8") as f:
            dash = json.load(f)
    except (OSError, ValueError) as e:
        print("FAIL: %s is not valid JSON: %s" % (dash_path, e))
        return 1
    try:
        rule_exprs, records, rule_queries = load_rules(rules_path)
    except Exception as e:  # yaml errors, OSError
        print("FAIL: cannot read rules %s: %s" % (rules_path, e))
        return 1
    known = set()
    for mf in metric_files:
        try:
            found = exposition_names(mf)
        except OSError as e:
            print("error: cannot read %s: %s" % (mf, e), file=sys.stderr)
            return 2
        if not found:
            problems.append("%s: no metrics in it (an empty scrape proves nothing)" % mf)
        known |= found

    dash_exprs = dashboard_exprs(dash, problems)
    all_exprs = dash_exprs + rule_exprs + rule_queries
    unknown = {}  # name -> [where]
    for where, expr in all_exprs:
        try:
            names = metric_names(expr)
        except PromQLError as e:
            problems.append("%s: cannot parse PromQL (%s): %s" % (where, e, " ".join(expr.split())))
            continue
        for n in names:
            if n in known or n in records or n in BUILTIN_METRICS:
                continue
            unknown.setdefault(n, []).append((where, " ".join(expr.split())))

    print("checked %d dashboard expression(s), %d rule expression(s), %d annotation "
          "query(ies) against %d metric name(s) from %s and %d recording rule(s)"
          % (len(dash_exprs), len(rule_exprs), len(rule_queries), len(known),
             ", ".join(metric_files), len(records)))
    if unknown:
        print("FAIL: %d metric name(s) neither exported, recorded nor built in:" % len(unknown))
        for n in sorted(unknown):
            print("  %s" % n)
            for where, expr in unknown[n]:
                short = expr if len(expr) <= 160 else expr[:157] + "..."
                print("      used by %s: %s" % (where, short))
    if problems:
        print("FAIL: %d other problem(s):" % len(problems))
        for p in problems:
            print("  " + p)
    if unknown or problems:
        return 1
    print("PASS: every metric name is known")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
