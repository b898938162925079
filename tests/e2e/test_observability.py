# SPDX-License-Identifier: BSD-2-Clause
"""Connection outcomes, /metrics, steerctl stats and trace against real connections
(issue 5, DESIGN.md §6): every counter equals what the clients really did, exactly."""
import json
import os
import signal
import subprocess
import time
import urllib.request

import pytest

import promtext
from steer import STEERCTL
from test_metrics import free_port

pytestmark = pytest.mark.usefixtures("need_binaries")

VIP = "10.96.0.40"
LIVE = {"v1": ["10.244.1.5:9080", "10.244.1.6:9080"], "v2": ["10.244.2.7:9080"]}
DEAD = "10.244.8.5:9080"     # an address of the namespace with no listener: RST
SILENT = "10.244.77.7:9080"  # routed into the dummy device: the SYN is never answered
BACKENDS = {"v1": LIVE["v1"], "v2": LIVE["v2"] + [DEAD], "v3": [SILENT]}


def obs_route(cg):
    return (f"kind: Route\nname: obs\n"
            f'frontends: ["{VIP}:9080", "{VIP}:9081"]\n'
            f"versions:\n"
            f"  v1: {{backends: [{', '.join(BACKENDS['v1'])}]}}\n"
            f"  v2: {{backends: [{', '.join(BACKENDS['v2'])}]}}\n"
            f"  v3: {{backends: [{SILENT}]}}\n"
            f"rules:\n"
            f"  - name: slow\n    match: {{uids: [1001]}}\n    split: {{v3: 100}}\n"
            f"  - name: default\n    match: {{ports: [9080]}}\n    split: {{v1: 50, v2: 50}}\n"
            f"policy:\n  default: allow\n  deny: [{{cgroups: [{cg('blocked')}]}}]\n")


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return r.read().decode()


class Traffic:
    """Make the connections and remember what the clients saw."""

    def __init__(self, client):
        self.client = client
        self.backends = {}   # backend -> connections that reached it
        self.bytes = {}      # backend -> payload bytes the client read
        self.refused = 0     # ECONNREFUSED from the dead backend
        self.timeouts = 0
        self.denied = 0
        self.noroute = 0

    def steered(self, n):
        r = self.client.run(f"{VIP}:9080", count=n)
        assert set(r["errors"]) <= {"ECONNREFUSED"}, r
        self.refused += r["errors"].get("ECONNREFUSED", 0)
        for b, k in r["backends"].items():
            self.backends[b] = self.backends.get(b, 0) + k
            self.bytes[b] = self.bytes.get(b, 0) + r["bytes"][b]
        assert sum(r["backends"].values()) + r["errors"].get("ECONNREFUSED", 0) == n

    def slow(self, n):
        r = self.client.run(f"{VIP}:9080", count=n, uid=1001, timeout_s=0.3)
        assert r["errors"] == {"ETIMEDOUT": n}, r
        self.timeouts += n

    def deny(self, n):
        r = self.client.run(f"{VIP}:9080", count=n, cgroup="blocked")
        assert r["errors"] == {"EPERM": n}, r
        self.denied += n

    def no_route(self, n):
        r = self.client.run(f"{VIP}:9081", count=n)
        assert r["errors"] == {"ECONNREFUSED": n}, r
        self.noroute += n

    def version_of(self, backend):
        return next(v for v, bs in BACKENDS.items() if backend in bs)

    def expected_backends(self):
        """backend -> (connections, established, failed, received bytes)"""
        exp = {b: (self.backends.get(b, 0), self.backends.get(b, 0), 0,
                   self.bytes.get(b, 0)) for v in LIVE.values() for b in v}
        exp[DEAD] = (self.refused, 0, self.refused, 0)
        exp[SILENT] = (self.timeouts, 0, self.timeouts, 0)
        return exp

    def expected_versions(self):
        """version -> connections (rule default for v1/v2, slow for v3)"""
        out = {"v1": 0, "v2": self.refused, "v3": self.timeouts}
        for b, n in self.backends.items():
            out[self.version_of(b)] += n
        return out


def wait_closed(port, traffic, timeout=10.0):
    """Scrape until every established connection has been counted closed."""
    est = sum(n for n in traffic.backends.values())
    deadline = time.monotonic() + timeout
    while True:
        fams = promtext.parse(scrape(port))
        closed = sum(v for n, lab, v in fams["steer_backend_connections_closed_total"]["samples"]
                     if lab["route"] == "obs")
        if closed == est or time.monotonic() > deadline:
            return fams
        time.sleep(0.1)


def check_metrics(fams, t):
    lab = dict(route="obs", layer="sock")
    for b, (conns, est, failed, nbytes) in t.expected_backends().items():
        bl = dict(lab, version=t.version_of(b), backend=b)
        assert promtext.value(fams, "steer_backend_connections_total", **bl) == conns, b
        assert promtext.value(fams, "steer_backend_connections_established_total",
                              **bl) == est, b
        assert promtext.value(fams, "steer_backend_connect_failures_total", **bl) == failed, b
        assert promtext.value(fams, "steer_backend_connections_closed_total", **bl) == est, b
        assert promtext.value(fams, "steer_backend_active_connections", **bl) == 0, b
        assert promtext.value(fams, "steer_backend_received_bytes_total", **bl) == nbytes, b
        assert promtext.value(fams, "steer_backend_sent_bytes_total", **bl) == 0, b
        tc = dict(bl, layer="tc")
        assert promtext.value(fams, "steer_backend_connections_total", **tc) == 0
    ver = t.expected_versions()
    for v, rule in (("v1", "default"), ("v2", "default"), ("v3", "slow")):
        assert promtext.value(fams, "steer_route_connections_total", rule=rule, version=v,
                              **lab) == ver[v], v
        other = "slow" if rule == "default" else "default"
        assert promtext.value(fams, "steer_route_connections_total", rule=other, version=v,
                              **lab) == 0, v
    # the RTT histogram counts each established connection once, per version
    for v in ("v1", "v2", "v3"):
        est = sum(n for b, n in t.backends.items() if t.version_of(b) == v)
        assert promtext.value(fams, "steer_version_connect_rtt_seconds_count",
                              route="obs", version=v) == est, v
        s = promtext.value(fams, "steer_version_connect_rtt_seconds_sum", route="obs", version=v)
        assert (s > 0) == (est > 0) and s <= est * 1.0, (v, s)  # each well under 1 s
    assert promtext.value(fams, "steer_route_policy_denials_total", **lab) == t.denied
    assert promtext.value(fams, "steer_route_no_route_total", **lab) == t.noroute
    steered = sum(t.expected_versions().values())
    assert promtext.value(fams, "steer_verdicts_total", reason="steered") == steered
    assert promtext.value(fams, "steer_verdicts_total", reason="policy_deny") == t.denied
    assert promtext.value(fams, "steer_verdicts_total", reason="no_rule") == t.noroute
    assert promtext.value(fams, "steer_route_split_ratio", route="obs", rule="default",
                          version="v2") == 0.5


def test_outcomes_metrics_and_restart(steerd, client, cg):
    port = free_port()
    steerd.metrics = f"127.0.0.1:{port}"
    steerd.write_route("obs", obs_route(cg))
    steerd.start()
    t = Traffic(client)
    t.steered(40)
    t.slow(3)
    t.deny(7)
    t.no_route(5)
    assert t.refused > 0 and len(t.backends) == 3, (t.refused, t.backends)

    text = scrape(port)
    from prometheus_client.parser import text_string_to_metric_families
    names = {s.name for f in text_string_to_metric_families(text) for s in f.samples}
    fams = wait_closed(port, t)
    assert names == {n for f in fams.values() for n, _, _ in f["samples"]}
    check_metrics(fams, t)

    # A restart (SIGTERM, then kill -9) resets nothing; new connections add exactly.
    steerd.stop()
    steerd.start()
    check_metrics(wait_closed(port, t), t)
    t.steered(10)
    t.deny(1)
    steerd.kill9()
    steerd.start()
    check_metrics(wait_closed(port, t), t)
    # and neither does a reload with the same files
    steerd.reload()
    time.sleep(0.3)
    check_metrics(wait_closed(port, t), t)
