# SPDX-License-Identifier: BSD-2-Clause
"""deploy/ checked structurally, without a cluster or network: every manifest
parses, names what it must, and queries only metrics steerd exports. (The
queries' values are checked by test_prometheus.py against a real steerd.)"""
import os
import re
import subprocess

import pytest
import yaml

import deploy_files as df

# The metric families steerd exports (README "Metrics").
METRICS_SRCS = [os.path.join(df.REPO, "agent", f) for f in ("metrics.c", "dns_report.c")]


def exported_families():
    src = "".join(open(f).read() for f in METRICS_SRCS)
    fams = set(re.findall(r'"(steer_[a-z0-9_]+)"', src))
    hist = {f + s for f in fams if f.endswith("_seconds") for s in ("_bucket", "_sum", "_count")}
    return fams | hist


def metric_names(expr):
    """steer_* metric names an expression selects (not parts of recorded names)."""
    return set(re.findall(r"(?<![:\w])steer_[a-z0-9_]+(?![:\w])", expr))


def test_rules_parse_and_name_only_exported_metrics():
    rs = df.rules()
    assert rs, "no rules"
    fams = exported_families()
    recorded = {r["record"] for _, r in rs if "record" in r}
    for _, r in rs:
        assert ("record" in r) != ("alert" in r), r
        used = metric_names(r["expr"])
        for name in used:
            assert name in fams, (r.get("record") or r.get("alert"), name)
        if "alert" in r:
            assert r["labels"]["severity"] in ("info", "warning", "critical"), r["alert"]
            assert r["annotations"]["summary"], r["alert"]
        for name in re.findall(r"\b(route(?:_version)?:[a-z0-9_:]+)", r["expr"]):
            assert name in recorded, (r, name)


def test_dashboard_structure():
    d = df.dashboard()
    assert d["uid"] and d["title"] and isinstance(d["schemaVersion"], int)
    names = {v["name"] for v in d["templating"]["list"]}
    assert {"datasource", "route"} <= names
    ids, refs = set(), 0
    fams = exported_families()
    for p in d["panels"]:
        assert p["id"] not in ids, p["title"]
        ids.add(p["id"])
        assert p["type"] in ("timeseries", "stat", "gauge", "table", "bargauge"), p
        assert p["datasource"]["uid"] == "${datasource}", p["title"]
        g = p["gridPos"]
        assert all(isinstance(g[k], int) for k in ("h", "w", "x", "y"))
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24, p["title"]
        assert p["targets"], p["title"]
        seen = set()
        for t in p["targets"]:
            assert t["refId"] not in seen
            seen.add(t["refId"])
            refs += 1
            for name in metric_names(t["expr"]):
                assert name in fams, (p["title"], name)
    assert refs >= 10


def test_argo_analysis_template():
    at = df.load_yaml(df.ANALYSIS)
    assert at["apiVersion"] == "argoproj.io/v1alpha1" and at["kind"] == "AnalysisTemplate"
    declared = {a["name"] for a in at["spec"]["args"]}
    for m in at["spec"]["metrics"]:
        used = set(re.findall(r"\{\{\s*args\.([\w-]+)\s*\}\}", yaml_dump(m)))
        assert used <= declared, (m["name"], used - declared)
        assert "prometheus" in m["provider"]
        assert m["successCondition"] and m["failureCondition"]
    conds = df.argo_conditions()
    s, f = conds["connect-failure-ratio"]
    # a healthy canary passes, a failing one fails, no traffic (NaN) is neither
    assert df.argo_eval(s, [0.0]) and not df.argo_eval(f, [0.0])
    assert df.argo_eval(f, [0.2]) and not df.argo_eval(s, [0.2])
    nan = float("nan")
    assert not df.argo_eval(s, [nan]) and not df.argo_eval(f, [nan])
    assert not df.argo_eval(s, []) and not df.argo_eval(f, [])


def test_flagger_metric_template():
    mt = df.load_yaml(df.METRIC_TEMPLATE)
    assert mt["apiVersion"] == "flagger.app/v1beta1" and mt["kind"] == "MetricTemplate"
    assert mt["spec"]["provider"]["type"] == "prometheus"
    q = df.flagger_expr(mt["spec"]["query"], "reviews", variables={"version": "v2"})
    assert "{{" not in q and 'route="reviews"' in q and 'version="v2"' in q


def test_every_query_fills_its_templates():
    qs = df.queries("reviews", "v2")
    assert len(qs) >= 20
    for qid, expr in qs.items():
        assert "{{" not in expr and "$" not in expr, (qid, expr)


def yaml_dump(obj):
    return yaml.safe_dump(obj)


if __name__ == "__main__":
    raise SystemExit(pytest.main(["-q", __file__]))


def manifests(name):
    with open(os.path.join(df.DEPLOY, name)) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    for d in docs:
        assert d["apiVersion"] and d["kind"] and d["metadata"]["name"], d
    return docs


def test_daemonset_least_privilege():
    ds = next(d for d in manifests("daemonset.yaml") if d["kind"] == "DaemonSet")
    assert ds["apiVersion"] == "apps/v1"
    spec = ds["spec"]["template"]["spec"]
    assert ds["spec"]["selector"]["matchLabels"].items() <= \
        ds["spec"]["template"]["metadata"]["labels"].items()
    assert spec["hostNetwork"] is True and not spec.get("hostPID")
    assert spec["dnsPolicy"] == "ClusterFirstWithHostNet"
    (c,) = spec["containers"]
    assert re.fullmatch(r"steer/steerd:[\w.-]+", c["image"]) and not c["image"].endswith(":latest")
    sc = c["securityContext"]
    assert not sc.get("privileged")
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert set(sc["capabilities"]["add"]) == {"BPF", "PERFMON", "NET_ADMIN", "SYS_ADMIN"}
    # the API server rejects allowPrivilegeEscalation: false next to SYS_ADMIN
    assert sc.get("allowPrivilegeEscalation") is not False
    assert sc["readOnlyRootFilesystem"] is True
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert any(a == f"--metrics=$(NODE_IP):{ports['metrics']}" for a in c["args"])
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert c[probe]["httpGet"]["port"] == "metrics"
    vols = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    assert vols[mounts["/sys/fs/bpf"]["name"]]["hostPath"]["path"] == "/sys/fs/bpf"
    assert "mountPropagation" not in mounts["/sys/fs/bpf"]  # Bidirectional needs privileged
    assert vols[mounts["/sys/fs/cgroup"]["name"]]["hostPath"]["path"] == "/sys/fs/cgroup"
    assert vols[mounts["/etc/steer/routes"]["name"]]["configMap"]["name"] == "steer-routes"
    assert "--routes=/etc/steer/routes" in c["args"]
    # every volume is mounted and every mount has a volume
    assert {m["name"] for m in c["volumeMounts"]} == set(vols)
    sa = next(d for d in manifests("daemonset.yaml") if d["kind"] == "ServiceAccount")
    assert spec["serviceAccountName"] == sa["metadata"]["name"]


def test_configmap_example_uses_dns_backends(tmp_path):
    docs = manifests("configmap-example.yaml")
    cm = next(d for d in docs if d["kind"] == "ConfigMap")
    assert cm["metadata"]["name"] == "steer-routes"
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    names = []
    steerctl = os.path.join(df.REPO, "build", "steerctl")
    for fname, text in cm["data"].items():
        assert fname.endswith(".yaml")
        if os.access(steerctl, os.X_OK):  # validate resolves nothing
            (tmp_path / fname).write_text(text)
            p = subprocess.run([steerctl, "validate", str(tmp_path / fname)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            assert p.returncode == 0, p.stdout
        route = yaml.safe_load(text)
        for v in route["versions"].values():
            for b in v["backends"]:
                assert isinstance(b, dict) and ("dns" in b or "srv" in b), b
                names.append(b.get("dns") or b.get("srv"))
    assert names
    for n in names:
        # every name is a headless Service of this file
        labels = n.split(".")
        svc = labels[1] if n.startswith("_") else labels[0]
        if n.startswith("_"):
            port = labels[0][1:]
            assert port in {p["name"] for p in services[labels[2]]["spec"]["ports"]}, n
            svc = labels[2]
        assert services[svc]["spec"]["clusterIP"] == "None", n
