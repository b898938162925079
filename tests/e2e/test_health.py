# SPDX-License-Identifier: BSD-2-Clause
"""Passive health in the datapath (issue 12): outlier ejection from failed
connects, failover to the rule's other versions, refusal when nothing is left,
and per-backend connection limits. Real servers in the sandbox netns; a backend
that refuses is an address on svc0 with no listener on the port (RST)."""
import json
import os
import subprocess
import time

import pytest

from sandbox import FIXTURES, PYTHON, kill_pid
from steer import Steerctl

VIP = "10.96.0.20:9080"
DOWN = "10.244.1.5:9999"  # svc0 has the address, nothing listens: RST

pytestmark = pytest.mark.usefixtures("need_binaries")


def route(versions, split, extra=""):
    vs = "".join(f"  {n}: {{backends: [{', '.join(b)}]}}\n" for n, b in versions.items())
    sp = ", ".join(f"{k}: {v}" for k, v in split.items())
    return (f"kind: Route\nname: reviews\nfrontends: [{VIP}]\nversions:\n{vs}"
            f"rules:\n  - name: default\n    split: {{{sp}}}\n{extra}")


def backend(st, version, addr):
    for v in st["reviews"]["versions"]:
        if v["name"] == version:
            for b in v["backends"]:
                if b["address"] == addr:
                    return b
    raise KeyError((version, addr))


def reasons(ctl):
    return ctl.json("stats").get("reasons", {})


def test_refusing_backend_ejected_after_exactly_n_failures(steerd, client):
    steerd.write_route("reviews", route(
        {"v1": [DOWN, "10.244.1.6:9080"]}, {"v1": 100},
        "health: {failures: 3, eject: 30s}\n"))
    steerd.start()
    r = client.run(VIP, count=60, seq=True)
    assert r["errors"] == {"ECONNREFUSED": 3}, r
    assert r["counts"] == {"v1-b": 57}, r
    # the three errors came first, then none
    assert [x[1] for x in r["seq"][:3]].count("ECONNREFUSED") <= 3
    errs = [i for i, x in enumerate(r["seq"]) if x[1] == "ECONNREFUSED"]
    assert errs[-1] < 8, r["seq"]
    ctl = Steerctl(client.sb, steerd)
    h = backend(ctl.status(), "v1", DOWN)["health"]
    assert h["state"] == "ejected" and h["ejections"] == 1, h
    assert 25000 < h["ejected_for_ms"] <= 30000, h
    assert backend(ctl.status(), "v1", "10.244.1.6:9080")["health"]["state"] == "ok"


def test_recovery_after_eject_time_and_backoff(steerd, client, sandbox):
    steerd.write_route("reviews", route(
        {"v1": [DOWN, "10.244.1.6:9080"]}, {"v1": 100},
        "health: {failures: 2, eject: 500ms}\n"))
    steerd.start()
    ctl = Steerctl(sandbox, steerd)
    r = client.run(VIP, count=20)
    assert r["errors"] == {"ECONNREFUSED": 2}, r
    # still down after the ejection: the first failure on retry ejects again,
    # for twice as long
    time.sleep(0.6)
    r = client.run(VIP, count=20)
    assert r["errors"] == {"ECONNREFUSED": 1}, r
    h = backend(ctl.status(), "v1", DOWN)["health"]
    assert h["ejections"] == 2 and 500 < h["ejected_for_ms"] <= 1000, h
    # it comes back: after the ejection it gets connections again
    srv = subprocess.Popen(sandbox.nsenter([PYTHON, os.path.join(FIXTURES, "echo_server.py"),
                                            f"{DOWN}=v1-back"]),
                           stdout=subprocess.PIPE, text=True)
    sandbox.procs.append(srv)
    try:
        assert srv.stdout.readline().strip() == "READY"
        time.sleep(1.1)
        r = client.run(VIP, count=40)
        assert r["errors"] == {}, r
        assert r["counts"].get("v1-back", 0) >= 10, r
        h = backend(ctl.status(), "v1", DOWN)["health"]
        assert h["state"] == "ok" and h["failures"] == 0, h
    finally:
        kill_pid(srv)


def test_whole_version_down_fails_over_by_weights(steerd, client):
    steerd.write_route("reviews", route(
        {"v1": [DOWN], "v2": ["10.244.2.7:9080"], "v3": ["10.244.2.8:9080"]},
        {"v1": 50, "v2": 50, "v3": 0},
        "health: {failures: 2, eject: 30s}\n"))
    steerd.start()
    r = client.run(VIP, count=200)
    # a 0% version stays dark; v1's share goes to v2
    assert r["errors"] == {"ECONNREFUSED": 2}, r
    assert r["counts"] == {"v2-a": 198}, r
    ctl = Steerctl(client.sb, steerd)
    assert backend(ctl.status(), "v1", DOWN)["health"]["state"] == "ejected"


def test_nothing_left_is_refused_and_counted(steerd, client):
    steerd.write_route("reviews", route(
        {"v1": [DOWN], "v2": ["10.244.2.7:9999"]}, {"v1": 50, "v2": 50},
        "health: {failures: 1, eject: 30s}\n"))
    steerd.start()
    r = client.run(VIP, count=20)
    assert r["errors"] == {"ECONNREFUSED": 20}, r
    ctl = Steerctl(client.sb, steerd)
    st = ctl.status()
    assert backend(st, "v1", DOWN)["health"]["state"] == "ejected"
    assert backend(st, "v2", "10.244.2.7:9999")["health"]["state"] == "ejected"
    # 2 connects reached a backend (one each) and failed; 18 were refused
    # by the datapath as "all ejected"
    assert st["reviews"]["refused"]["no_route"] == 18, st["reviews"]


def test_max_ejected_caps_a_version(steerd, client):
    down2 = "10.244.1.6:9999"
    steerd.write_route("reviews", route(
        {"v1": [DOWN, down2, "10.244.2.7:9080", "10.244.2.8:9080"]}, {"v1": 100},
        "health: {failures: 1, eject: 30s, max-ejected: 25%}\n"))
    steerd.start()
    client.run(VIP, count=40)
    st = Steerctl(client.sb, steerd).status()
    states = [backend(st, "v1", a)["health"]["state"] for a in (DOWN, down2)]
    assert sorted(states) == ["ejected", "ok"], st


class Holder:
    """tests/e2e/hold_probe.py: connections held open in the client cgroup."""

    def __init__(self, sb, n):
        self.p = subprocess.Popen(sb.nsenter([PYTHON, os.path.join(FIXTURES, "hold_probe.py"),
                                              "--cgroup", sb.make_cgroup("clients"),
                                              "--count", str(n), VIP]),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        sb.procs.append(self.p)
        self.first = [self.line() for _ in range(n)]

    def line(self):
        return json.loads(self.p.stdout.readline())

    def cmd(self, c):
        self.p.stdin.write(c + "\n")
        self.p.stdin.flush()
        return self.line()

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=10)


def test_max_connections_sends_the_third_elsewhere(steerd, client, sandbox):
    steerd.write_route("reviews", route(
        {"v1": ["10.244.1.5:9080", "10.244.1.6:9080"]}, {"v1": 100},
        "connection-pool: {max-connections: 2}\n"))
    steerd.start()
    h = Holder(sandbox, 5)
    got = [x.get("ident") or x.get("error") for x in h.first]
    assert sorted(got) == ["ECONNREFUSED", "v1-a", "v1-a", "v1-b", "v1-b"], got
    assert got[4] == "ECONNREFUSED", got
    st = Steerctl(sandbox, steerd).status()
    for a in ("10.244.1.5:9080", "10.244.1.6:9080"):
        hb = backend(st, "v1", a)["health"]
        assert hb["active"] == 2, hb
    assert sum(backend(st, "v1", a)["health"]["overflow"]
               for a in ("10.244.1.5:9080", "10.244.1.6:9080")) >= 2
    # a place comes free when a connection closes
    a_idx = got.index("v1-a")
    h.cmd(f"close {a_idx}")
    assert h.cmd("connect") == {"ident": "v1-a"}
    h.close()
    st = Steerctl(sandbox, steerd).wait_status(
        lambda s: all(backend(s, "v1", a)["health"]["active"] == 0
                      for a in ("10.244.1.5:9080", "10.244.1.6:9080")))


def test_metrics_and_stats_show_ejections_and_overflow(steerd, client, sandbox):
    from test_metrics import free_port, get, sample
    port = free_port()
    steerd.metrics = f"127.0.0.1:{port}"
    # Eject first, with no limit: with max-connections 1, back-to-back
    # connects could find the last one's place not yet given back (its close
    # is counted when the socket reaches CLOSE) and be refused as overflow.
    steerd.write_route("reviews", route(
        {"v1": [DOWN, "10.244.1.6:9080"]}, {"v1": 100},
        "health: {failures: 2, eject: 30s}\n"))
    steerd.start()
    r = client.run(VIP, count=20)
    assert r["errors"] == {"ECONNREFUSED": 2}, r
    # Then the limit, by a change of the file (health follows the backends).
    off = steerd.log_offset()
    steerd.write_route("reviews", route(
        {"v1": [DOWN, "10.244.1.6:9080"]}, {"v1": 100},
        "health: {failures: 2, eject: 30s}\nconnection-pool: {max-connections: 1}\n"))
    assert steerd.wait_log(r"1 published", off, timeout=5.0), steerd.log_since(off)
    h = Holder(sandbox, 2)  # the second finds v1-b's only place taken
    assert [x.get("ident") or x.get("error") for x in h.first] == ["v1-b", "ECONNREFUSED"]
    _, text = get(f"http://127.0.0.1:{port}/metrics")
    lab = {"route": "reviews", "version": "v1"}
    assert sample(text, "steer_backend_ejected", backend=DOWN, **lab) == 1
    assert sample(text, "steer_backend_ejected", backend="10.244.1.6:9080", **lab) == 0
    assert sample(text, "steer_backend_ejections_total", backend=DOWN, **lab) == 1
    assert sample(text, "steer_backend_overflow_total", backend="10.244.1.6:9080", **lab) == 1
    assert sample(text, "steer_verdicts_total", reason="overflow") == 1
    ctl = Steerctl(sandbox, steerd)
    st = ctl.json("stats")
    bes = {b["address"]: b for rt in st["routes"] for v in rt["versions"]
           for b in v["backends"]}
    assert bes[DOWN]["ejected"] and bes[DOWN]["ejections"] == 1, bes
    assert bes["10.244.1.6:9080"]["overflow"] == 1, bes
    h.close()


def test_restore_ends_a_passive_ejection(steerd, client, sandbox):
    up = "10.244.1.6:9080"
    steerd.write_route("reviews", route(
        {"v1": [DOWN, up]}, {"v1": 100},
        "health: {failures: 2, eject: 30s}\nconnection-pool: {max-connections: 10}\n"))
    steerd.start()
    ctl = Steerctl(sandbox, steerd)
    r = client.run(VIP, count=20)
    assert r["errors"] == {"ECONNREFUSED": 2}, r
    assert backend(ctl.status(), "v1", DOWN)["health"]["state"] == "ejected"
    h = Holder(sandbox, 3)  # three places of the healthy backend held open
    try:
        assert [x.get("ident") for x in h.first] == ["v1-b"] * 3, h.first
        out = ctl.json("restore", "reviews", DOWN)
        assert out["backends"] == [{"version": "v1", "address": DOWN,
                                    "passive_ejection_ended": True}], out
        p = ctl.run("restore", "reviews", up)  # not ejected: says nothing more
        assert p.returncode == 0, p.stderr
        assert p.stdout.splitlines()[0] == f"restored {up} (version v1)", p.stdout
        st = ctl.status()
        hd = backend(st, "v1", DOWN)["health"]
        assert hd["state"] == "ok" and hd["failures"] == 0 and hd["ejections"] == 1, hd
        # only the ejection's fields changed: the held places are all counted
        assert backend(st, "v1", up)["health"]["active"] == 3, st
        # It gets connections again at once; two failures eject it again, for
        # `eject` (the backoff started over: not 60 s after one failure).
        r = client.run(VIP, count=20)
        assert r["errors"] == {"ECONNREFUSED": 2}, r
        hd = backend(ctl.status(), "v1", DOWN)["health"]
        assert hd["state"] == "ejected" and hd["ejections"] == 2, hd
        assert 25000 < hd["ejected_for_ms"] <= 30000, hd
        # With a manual ejection on top, one restore ends both.
        ctl.json("eject", "reviews", DOWN)
        p = ctl.run("restore", "reviews", DOWN)
        assert p.returncode == 0, p.stderr
        assert p.stdout.splitlines()[0] == (f"restored {DOWN} (version v1): "
                                            "passive ejection ended"), p.stdout
        st = ctl.status()
        assert backend(st, "v1", DOWN)["health"]["state"] == "ok", st
        assert not st["reviews"]["override"], st["reviews"]
    finally:
        h.close()


def test_more_than_32_ejected_at_once_and_restored(steerd, client, sandbox):
    """max-ejected holds for a version of any size: 40 refusing backends of 40
    are all ejected at 100% (the slots span two pages), and restoring them
    gives every slot back, page 2 included: all 40 are ejected again."""
    down = [f"10.244.1.5:{9900 + i}" for i in range(40)]
    steerd.write_route("reviews", route(
        {"v1": down}, {"v1": 100},
        "health: {failures: 1, eject: 60s, max-ejected: 100%}\n"))
    steerd.start()
    ctl = Steerctl(sandbox, steerd)

    def ejected():
        st = ctl.status()
        hs = [backend(st, "v1", a)["health"] for a in down]
        return sum(h["state"] == "ejected" for h in hs), sum(h["capped"] for h in hs)

    r = client.run(VIP, count=400)
    assert set(r["errors"]) == {"ECONNREFUSED"} and not r["counts"], r
    assert ejected() == (40, 0)
    for a in down:
        assert ctl.json("restore", "reviews", a)["backends"][0][
            "passive_ejection_ended"], a
    assert ejected()[0] == 0
    client.run(VIP, count=400)
    assert ejected() == (40, 0)


def test_a_run_of_ejected_backends_keeps_its_share_in_the_version(steerd, client):
    """Twelve refusing backends listed together (a node gone) and one that
    answers, in the only version: once the twelve are ejected, every
    connection reaches the one that answers, whatever ref its draw falls on;
    none is refused for the version looking empty (the tries go past the
    first eight, as far as all of a version of up to 64)."""
    down = [f"10.244.1.5:{9900 + i}" for i in range(12)]
    steerd.write_route("reviews", route(
        {"v1": down + ["10.244.1.6:9080"]}, {"v1": 100},
        "health: {failures: 1, eject: 60s, max-ejected: 100%}\n"))
    steerd.start()
    r = client.run(VIP, count=200)
    assert r["errors"] == {"ECONNREFUSED": 12}, r
    assert r["counts"] == {"v1-b": 188}, r
    r = client.run(VIP, count=130)
    assert not r["errors"] and r["counts"] == {"v1-b": 130}, r
