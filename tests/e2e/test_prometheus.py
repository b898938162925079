# SPDX-License-Identifier: BSD-2-Clause
"""Every PromQL query of deploy/ (recording and alert rules, the Grafana
dashboard, the Argo Rollouts AnalysisTemplate, the Flagger MetricTemplate)
evaluated by a real Prometheus (Debian's) scraping a real steerd, after real
connections whose numbers the test knows: each query must parse, return what
it must, and give the value the traffic implies (a canary's failure ratio is
exactly its failed / attempted connects)."""
import math
import os
import time
import urllib.request

import pytest

import deploy_files as df
import promtext
from dnsmasq_server import DNSMASQ, Dnsmasq
from prometheus_server import PROMETHEUS, Prometheus, free_port

pytestmark = pytest.mark.usefixtures("need_binaries")

VIP = "10.96.0.50"
LIVE1 = ["10.244.1.5:9080", "10.244.1.6:9080"]
LIVE2 = "10.244.2.7:9080"
DEAD = "10.244.8.5:9080"     # an address of the namespace with no listener: RST
V3 = "10.244.1.5:9080"       # v3.steer.test's address (v3 gets no connection)
W = 60.0                     # the [1m] windows of the queries


def prom_route(cg):
    return (f"kind: Route\nname: prom\n"
            f'frontends: ["{VIP}:9080", "{VIP}:9081"]\n'
            f"versions:\n"
            f"  v1: {{backends: [{', '.join(LIVE1)}]}}\n"
            f"  v2: {{backends: [{LIVE2}, {DEAD}]}}\n"
            # deployed, not released: a DNS name with one address, one without
            f"  v3: {{backends: [{{dns: v3.steer.test, port: 9080}},"
            f" {{dns: gone.steer.test, port: 9080}}]}}\n"
            f"rules:\n"
            f"  - name: default\n    match: {{ports: [9080]}}\n    split: {{v1: 50, v2: 50}}\n"
            f"policy:\n  default: allow\n  deny: [{{cgroups: [{cg('blocked')}]}}]\n")


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return promtext.parse(r.read().decode())


def key(labels, names):
    return tuple(labels.get(n, "") for n in names)


class Expect:
    """What each query must return: {label tuple: value or predicate}."""

    def __init__(self, labels, values, exact=True):
        self.labels, self.values, self.exact = labels, values, exact

    def check(self, qid, vec):
        got = {key(lab, self.labels): v for lab, v in vec}
        assert len(got) == len(vec), (qid, "duplicate series", vec)
        if self.exact:
            assert set(got) == set(self.values), (qid, got, self.values)
        for k, want in self.values.items():
            assert k in got, (qid, k, got)
            if callable(want):
                assert want(got[k]), (qid, k, got[k])
            else:
                assert got[k] == pytest.approx(want, rel=1e-9, abs=1e-12), (qid, k, got[k], want)


def expectations(t):
    """{query id: Expect} from the traffic T made (counts per version, backend)."""
    v1, v2, refused, noroute, denied = t["v1"], t["v2"], t["refused"], t["noroute"], t["denied"]
    steered = v1 + v2
    ratio2 = refused / v2
    rv = ("route", "version")
    rtt = lambda x: 0 < x < 1  # noqa: E731  (loopback connects: well under 1 s)
    nan = math.isnan           # v3 has no connection: 0 / 0, no RTT sample
    positive = lambda x: x > 0  # noqa: E731
    zero = {("prom", "v1"): 0.0, ("prom", "v2"): ratio2, ("prom", "v3"): nan}
    per_backend = {("prom", "v1", b): 0.0 for b in LIVE1}
    per_backend.update({("prom", "v2", LIVE2): 0.0, ("prom", "v2", DEAD): refused / W,
                        ("prom", "v3", V3): 0.0})
    names = ("name", "type")
    v3, gone = ("v3.steer.test", "dns"), ("gone.steer.test", "dns")
    rx = t["bytes"]
    e = {
        "rules/record/route_version:steer_backend_connections:rate1m":
            Expect(rv, {("prom", "v1"): v1 / W, ("prom", "v2"): v2 / W, ("prom", "v3"): 0.0}),
        "rules/record/route_version:steer_backend_connect_failures:rate1m":
            Expect(rv, {("prom", "v1"): 0.0, ("prom", "v2"): refused / W, ("prom", "v3"): 0.0}),
        # over recorded series (evaluated by Prometheus at its own times): a ratio
        # of two rates over the same samples is exact whatever the extrapolation
        "rules/record/route_version:steer_backend_connect_failure_ratio:rate1m":
            Expect(rv, zero),
        "rules/record/route:steer_route_connections:rate1m":
            Expect(("route",), {("prom",): steered / W}),
        "rules/record/route:steer_route_no_route:rate1m":
            Expect(("route",), {("prom",): noroute / W}),
        "rules/record/route_version:steer_version_connect_rtt_seconds:p99_1m":
            Expect(rv, {("prom", "v1"): rtt, ("prom", "v2"): rtt, ("prom", "v3"): nan}),
        "rules/alert/SteerVersionConnectFailures":
            Expect(rv, {("prom", "v2"): ratio2}),
        "rules/alert/SteerNoRouteSurge":
            Expect(("route",), {("prom",): noroute / (noroute + steered)}),
        "rules/alert/SteerConfigApplyErrors":
            Expect(("job",), {("steerd",): 1.0}),
        "rules/alert/SteerdDown": Expect(("job",), {}),        # up: no alert
        "rules/alert/SteerConntrackFull": Expect(("job",), {}),  # no TC layer here
        # the DNS server was stopped after the first answers
        "rules/alert/SteerDNSFailures": Expect(names, {v3: positive, gone: positive}),
        "rules/alert/SteerDNSNoBackends": Expect(names, {gone: 0.0}),
        "dashboard/DNS backends per name/A": Expect(names, {v3: 1.0, gone: 0.0}),
        "dashboard/DNS backends per name/B": Expect(names, {v3: positive, gone: positive}),
        "dashboard/DNS backends per name/C": Expect(names, {v3: 2.0, gone: 1.0}),
        "dashboard/New connections per version/A":
            Expect(rv, {("prom", "v1"): v1 / W, ("prom", "v2"): v2 / W, ("prom", "v3"): 0.0}),
        "dashboard/Split now (share of the rule's new connections)/A":
            Expect(("route", "rule", "version"),
                   {("prom", "default", "v1"): 0.5, ("prom", "default", "v2"): 0.5,
                    ("prom", "default", "v3"): 0.0}),
        "dashboard/Connect failure ratio per version (canary health)/A": Expect(rv, zero),
        "dashboard/Failed connects per backend/A":
            Expect(("route", "version", "backend"), per_backend),
        "dashboard/Refused connections/A": Expect(("route",), {("prom",): noroute / W}),
        "dashboard/Refused connections/B": Expect(("route",), {("prom",): denied / W}),
        "dashboard/Connect RTT per version (p50, p99)/A":
            Expect(rv, {("prom", "v1"): rtt, ("prom", "v2"): rtt, ("prom", "v3"): nan}),
        "dashboard/Connect RTT per version (p50, p99)/B":
            Expect(rv, {("prom", "v1"): rtt, ("prom", "v2"): rtt, ("prom", "v3"): nan}),
        "dashboard/Active connections per backend/A":
            Expect(("route", "version", "backend"), {k: 0.0 for k in per_backend}),
        "dashboard/Throughput per version/A":
            Expect(rv, {("prom", "v1"): 0.0, ("prom", "v2"): 0.0, ("prom", "v3"): 0.0}),
        "dashboard/Throughput per version/B":
            Expect(rv, {("prom", "v1"): sum(rx.get(b, 0) for b in LIVE1) / W,
                        ("prom", "v2"): rx.get(LIVE2, 0) / W, ("prom", "v3"): 0.0}),
        "dashboard/Datapath verdicts/A":
            Expect(("reason",), {("steered",): steered / W, ("no_rule",): noroute / W,
                                 ("policy_deny",): denied / W, ("no_backend",): 0.0,
                                 ("tc_ct_full",): 0.0}, exact=False),
        "dashboard/Overrides in force/A": Expect(("route",), {("prom",): 0.0}),
        "dashboard/Configuration/A": Expect(("job",), {("",): lambda g: g >= 1}),
        "dashboard/Configuration/B": Expect(("job",), {("",): 1.0}),
        "dashboard/Configuration/C": Expect(("job",), {("",): lambda s: 0 <= s < 120}),
        "dashboard/steerd up/A": Expect(("job",), {("",): 1.0}),
        "dashboard/steerd up/B": Expect(("job",), {("",): 1.0}),
        "dashboard/variable/route":
            Expect(("route", "version", "layer"),
                   {(r, v, l): (lambda x: x >= 0) for r in ("prom",) for v in ("v1", "v2", "v3")
                    for l in ("sock", "tc")}),
        "argo/connect-failure-ratio": Expect(("job",), {("",): ratio2}),
        "argo/no-route-refusals": Expect(("job",), {("",): float(noroute)}),
        "flagger/steer-connect-failure-percentage": Expect(("job",), {("",): 100 * ratio2}),
    }
    return e


def make_traffic(client, port):
    """Connects with known outcomes; returns the counts the clients saw."""
    t = {"v1": 0, "v2": 0, "refused": 0, "noroute": 0, "denied": 0, "bytes": {}}
    r = client.run(f"{VIP}:9080", count=200)
    assert set(r["errors"]) <= {"ECONNREFUSED"}, r
    t["refused"] = r["errors"].get("ECONNREFUSED", 0)
    for b, n in r["backends"].items():
        t["v1" if b in LIVE1 else "v2"] += n
        t["bytes"][b] = r["bytes"][b]
    t["v2"] += t["refused"]
    assert t["v1"] + t["v2"] == 200 and t["refused"] > 10 and t["v2"] > t["refused"], t
    r = client.run(f"{VIP}:9081", count=20)
    assert r["errors"] == {"ECONNREFUSED": 20}, r
    t["noroute"] = 20
    r = client.run(f"{VIP}:9080", count=5, cgroup="blocked")
    assert r["errors"] == {"EPERM": 5}, r
    t["denied"] = 5
    return t


def wait_counted(port, t, timeout=10.0):
    """Until steerd's /metrics shows every connection closed and every failure."""
    deadline = time.monotonic() + timeout
    est = t["v1"] + t["v2"] - t["refused"]
    while True:
        fams = scrape(port)
        s = lambda n: sum(v for _, lab, v in fams[n]["samples"]  # noqa: E731
                          if lab.get("route") == "prom")
        if (s("steer_backend_connections_closed_total") == est and
                s("steer_backend_connect_failures_total") == t["refused"]):
            return
        assert time.monotonic() < deadline, "steerd never counted the traffic"
        time.sleep(0.1)


def last_scrape(prom):
    """Timestamp (s) of Prometheus's latest scrape of steerd."""
    v = prom.vector('timestamp(up{job="steerd"})')
    assert len(v) == 1, v
    return v[0][1]


def test_every_deploy_query_on_a_real_prometheus(sandbox, steerd, client, cg):
    if not os.access(PROMETHEUS, os.X_OK) or not os.access(DNSMASQ, os.X_OK):
        pytest.skip("prometheus or dnsmasq not installed (tools/install-deps.sh)")
    # steerd runs in the host's namespace here (Prometheus scrapes it on
    # 127.0.0.1): its DNS server listens on 127.0.0.1 too
    dport = free_port()
    dns = Dnsmasq(sandbox, {"v3.steer.test": [V3.split(":")[0]]}, listen="127.0.0.1",
                  port=dport, netns=False).start()
    sandbox.closers.append(dns.stop)
    mport = free_port()
    steerd.metrics = f"127.0.0.1:{mport}"
    steerd.binary = steerd.binary + ["--dns-server", f"127.0.0.1:{dport}"]
    steerd.write_route("prom", prom_route(cg))
    steerd.start()
    prom = Prometheus(sandbox, [f"127.0.0.1:{mport}"], rule_files=[df.RULES]).start()
    try:
        # Prometheus has a sample of every series at 0 before the traffic: a
        # [1m] rate evaluated at a scrape's own timestamp is then exactly N / 60
        # (no extrapolation at either end).
        prom.wait('steer_backend_connections_total{route="prom"}', lambda v: len(v) == 10)
        prom.wait("steer_dns_backends", lambda v: len(v) == 2)
        t0 = last_scrape(prom)
        dns.stop()  # from now on every resolution fails: the answers are kept
        t = make_traffic(client, mport)
        # a rejected route file: one apply error, the configuration unchanged
        bad = steerd.write_route("bad", "kind: Route\nname: BAD\n")
        prom.wait("steer_config_apply_errors_total", lambda v: v and v[0][1] == 1)
        os.unlink(bad)
        wait_counted(mport, t)
        time.sleep(2.5)  # a scrape that started after the last count
        t1 = last_scrape(prom)
        assert t1 - t0 < 40, "the test must fit in the [1m] windows"
        time.sleep(1.5)  # the recording rules evaluated after t1

        qs = df.queries("prom", "v2")
        exp = expectations(t)
        assert set(qs) == set(exp), ("queries without an expected value (or gone)",
                                     set(qs) ^ set(exp))
        for qid, expr in sorted(qs.items()):
            vec = prom.vector(expr, at=t1)
            print(qid, vec)  # shown when the test fails
            exp[qid].check(qid, vec)

        # Argo's conditions on the measurement: the failing canary fails, v1 passes
        succ, fail = df.argo_conditions()["connect-failure-ratio"]
        canary = [v for _, v in prom.vector(qs["argo/connect-failure-ratio"], at=t1)]
        assert df.argo_eval(fail, canary) and not df.argo_eval(succ, canary)
        stable = [v for _, v in prom.vector(df.queries("prom", "v1")["argo/connect-failure-ratio"],
                                             at=t1)]
        assert stable == [0.0] and df.argo_eval(succ, stable)

        # Prometheus evaluates the alert rules itself: the canary's is pending
        # (for: 2m), the apply error's (no for:) firing.
        alerts = {(a["labels"]["alertname"], a["state"])
                  for a in prom.api("alerts")["data"]["alerts"]}
        assert ("SteerVersionConnectFailures", "pending") in alerts, alerts
        assert ("SteerConfigApplyErrors", "firing") in alerts, alerts
        rules_health = [(r["name"], r["health"], r.get("lastError"))
                        for g in prom.api("rules")["data"]["groups"] for r in g["rules"]]
        assert all(h == "ok" for _, h, _ in rules_health), rules_health
        assert len(rules_health) == len(df.rules())

        # steerd gone: up drops to 0 and SteerdDown's expression holds
        steerd.stop()
        prom.wait('up{job="steerd"}', lambda v: v and v[0][1] == 0)
        down = prom.vector(qs["rules/alert/SteerdDown"])
        assert [lab["job"] for lab, _ in down] == ["steerd"], down
    finally:
        prom.close()
    assert prom.proc.poll() is not None and not os.path.exists(prom.dir)
    assert not math.isnan(t1)
