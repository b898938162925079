# SPDX-License-Identifier: BSD-2-Clause
"""The PromQL queries of deploy/: rules, dashboard, Argo and Flagger templates.

Shared by test_deploy_files.py (structure, no root) and test_prometheus.py
(every query evaluated by a real Prometheus scraping a real steerd)."""
import json
import os
import re

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEPLOY = os.path.join(REPO, "deploy")
RULES = os.path.join(DEPLOY, "prometheus", "steer-rules.yaml")
DASHBOARD = os.path.join(DEPLOY, "grafana", "steer-dashboard.json")
ANALYSIS = os.path.join(DEPLOY, "argo", "analysistemplate.yaml")
METRIC_TEMPLATE = os.path.join(DEPLOY, "flagger", "metrictemplate.yaml")


def load_yaml(path):
    with open(path) as f:
        return yaml.safe_load(f)


def rules():
    """[(group, rule)] of the rules file."""
    doc = load_yaml(RULES)
    return [(g["name"], r) for g in doc["groups"] for r in g["rules"]]


def dashboard():
    with open(DASHBOARD) as f:
        return json.load(f)


def grafana_expr(expr, route):
    """A dashboard query as Grafana would send it for one route."""
    return (expr.replace("$__rate_interval", "1m").replace("$__interval", "15s")
            .replace("$route", re.escape(route)))


def argo_expr(query, args):
    return re.sub(r"\{\{\s*args\.([\w-]+)\s*\}\}", lambda m: args[m.group(1)], query)


def flagger_expr(query, target, interval="1m", namespace="default", variables=None):
    vals = {"target": target, "interval": interval, "namespace": namespace,
            "name": target, "service": target}
    for k, v in (variables or {}).items():
        vals["variables." + k] = v
    return re.sub(r"\{\{\s*([\w.]+)\s*\}\}", lambda m: vals[m.group(1)], query)


def queries(route, version):
    """Every PromQL query of deploy/ with its template arguments filled in for
    ROUTE and its canary VERSION: {id: expr}. The id names where it comes from."""
    out = {}
    for group, r in rules():
        kind = "record" if "record" in r else "alert"
        out[f"rules/{kind}/{r.get('record') or r.get('alert')}"] = r["expr"]
    d = dashboard()
    for p in d["panels"]:
        for t in p["targets"]:
            out[f"dashboard/{p['title']}/{t['refId']}"] = grafana_expr(t["expr"], route)
    for v in d["templating"]["list"]:
        if v["type"] == "query":
            m = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", v["definition"])
            assert m, v["definition"]
            out[f"dashboard/variable/{v['name']}"] = m.group(1)
    at = load_yaml(ANALYSIS)
    args = {a["name"]: a.get("value", "") for a in at["spec"]["args"]}
    args.update({"route": route, "canary-version": version})
    for m in at["spec"]["metrics"]:
        out[f"argo/{m['name']}"] = argo_expr(m["provider"]["prometheus"]["query"], args)
    mt = load_yaml(METRIC_TEMPLATE)
    out["flagger/" + mt["metadata"]["name"]] = flagger_expr(
        mt["spec"]["query"], route, variables={"version": version})
    return out


def argo_conditions():
    """{metric name: (successCondition, failureCondition)}"""
    at = load_yaml(ANALYSIS)
    return {m["name"]: (m.get("successCondition"), m.get("failureCondition"))
            for m in at["spec"]["metrics"]}


def argo_eval(cond, result):
    """Evaluate an Argo expr condition of the forms the template uses
    (len(result), result[0], comparisons, && ||) on a measurement."""
    py = cond.replace("&&", " and ").replace("||", " or ")
    assert re.fullmatch(r"[\w\s\[\]().<>=!]+", py), cond
    return bool(eval(py, {"__builtins__": {}}, {"len": len, "result": result}))
