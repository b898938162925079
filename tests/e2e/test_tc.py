# SPDX-License-Identifier: BSD-2-Clause
"""The TC layer end to end (docs/DESIGN.md §3): client netns -> router netns (steerd with
--tc-iface on both veths) -> backend netns, real TCP and UDP.  No client runs in the
cgroup steerd hooks, so every connection here is steered by bpf/tc.bpf.c alone.

Splits are checked over connections from explicit, consecutive source ports: at TC a
flow's version is a hash of its 5-tuple (so that a lost conntrack entry maps the flow
back to its backend), which makes the outcome a fixed function of these inputs instead
of a draw that would miss a +-5 point band in about 0.5 % of runs."""
import json
import os
import signal
import subprocess
import time

import pytest

from sandbox import FIXTURES, PYTHON, kill_pid
from steer import STEERCTL, STEERD, Steerctl, Steerd
from tc_sandbox import CLIENT_V4, PEER, TcSandbox

pytestmark = pytest.mark.usefixtures("need_binaries")

VIP4 = "10.96.0.20"
VIP6 = "[fd00:96::20]"
NEW_VIP = "10.96.0.22"


def route(split, extra=""):
    return ("kind: Route\n"
            "name: web\n"
            f'frontends: ["{VIP4}:9080", "{VIP6}:9080", "{VIP4}:9053/udp", "{VIP4}:9090",'
            f' "{NEW_VIP}:9080"]\n'
            "versions:\n"
            '  v1: {backends: [10.244.1.5, 10.244.1.6, "fd00:244:1::5"]}\n'
            '  v2: {backends: [10.244.2.7, 10.244.2.8, "fd00:244:2::7"]}\n'
            "  v3: {backends: [10.244.3.3]}\n"
            "rules:\n"
            "  - name: testers\n"
            "    match: {sources: [10.244.9.0/24]}\n"
            "    split: {v2: 100}\n"
            "  - name: default\n"
            "    split: {" + ", ".join(f"{k}: {v}" for k, v in split.items()) + "}\n"
            "policy:\n"
            "  deny: [{sources: [10.244.66.0/24]}]\n" + extra)


class TcSteerd(Steerd):
    """steerd in the router namespace, steering at TC on rc* and rb*."""

    def __init__(self, sb):
        super().__init__(sb, binary=["nsenter", f"--net={sb.ns_path('r')}", STEERD])

    def argv(self):
        return super().argv() + ["--tc-iface", "rc*,rb*", "--ct-max", "4096"]


@pytest.fixture(scope="module")
def tcsb():
    sb = TcSandbox().open()
    try:
        sb.start_servers()
        yield sb
    finally:
        sb.close()


@pytest.fixture
def tcd(tcsb):
    d = TcSteerd(tcsb)
    tcsb.closers.append(d.cleanup)
    try:
        yield d
    finally:
        try:
            d.cleanup()
        finally:
            assert not os.path.exists(tcsb.pin_dir), "pin dir left behind"


def peer(sb, *args, timeout=60):
    p = subprocess.run(sb.in_ns("c", [PYTHON, PEER] + list(args)), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=timeout)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def connect(sb, target, count, sport_base=0, bind=None, udp=False, timeout=0):
    args = ["connect", "--count", str(count)]
    if timeout:
        args += ["--timeout", str(timeout)]
    if sport_base:
        args += ["--sport-base", str(sport_base)]
    if bind:
        args += ["--bind", bind]
    if udp:
        args += ["--udp"]
    return peer(sb, *(args + [target]))


def by_version(r):
    out = {}
    for ident, n in r["counts"].items():
        v = ident.split("-")[0]
        out[v] = out.get(v, 0) + n
    return out


def tc_filter(sb, dev):
    """steer's filter on @dev's ingress as `tc` shows it ('' when none)."""
    p = subprocess.run(sb.in_ns("r", ["tc", "filter", "show", "dev", dev, "ingress"]),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return p.stdout if "steer_tc_ingres" in p.stdout else ""  # 15-char prog name


def test_split_80_20_and_0_over_500_tcp(tcsb, tcd):
    tcd.write_route("web", route({"v1": 80, "v2": 20, "v3": 0}))
    tcd.start()
    r = connect(tcsb, f"{VIP4}:9080", 500, sport_base=20000)
    assert r["errors"] == {} and r["total"] == 500, r
    v = by_version(r)
    assert v.get("v3", 0) == 0, v
    assert abs(100 * v.get("v1", 0) / 500 - 80) <= 5, v
    assert v.get("v1", 0) + v.get("v2", 0) == 500, v
    # DNAT only: the backends saw the client's own address
    assert r["sources"] == [CLIENT_V4["plain"]], r
    st = Steerctl(tcsb, tcd).status()["web"]
    assert st["layers"]["tc"]["connections"] == 500, st["layers"]
    assert st["layers"]["sock"]["connections"] == 0, st["layers"]
    backends = [b for ver in st["versions"] for b in ver["backends"]]
    assert sum(b["tc"]["connections"] for b in backends) == 500
    assert sum(b["tc"]["established"] for b in backends) == 500
    assert all(b["tc"]["packets_from"] > 0 for b in backends
               if b["tc"]["connections"]), backends


def test_ipv6_and_udp(tcsb, tcd):
    tcd.write_route("web", route({"v1": 50, "v2": 50}))
    tcd.start()
    r = connect(tcsb, f"{VIP6}:9080", 100, sport_base=21000)
    assert r["errors"] == {} and set(r["counts"]) <= {"v1-6", "v2-6"}, r
    assert len(r["counts"]) == 2, r
    # a connected UDP socket takes answers only from the frontend it dialled
    r = connect(tcsb, f"{VIP4}:9053", 200, sport_base=22000, udp=True)
    assert r["errors"] == {} and r["total"] == 200, r
    v = by_version(r)
    assert abs(v.get("v1", 0) - 100) <= 25, v


def test_testers_get_v2_and_denied_cannot_connect(tcsb, tcd):
    tcd.write_route("web", route({"v1": 100, "v2": 0}))
    tcd.start()
    r = connect(tcsb, f"{VIP4}:9080", 100, bind=CLIENT_V4["tester"])
    assert r["errors"] == {} and by_version(r) == {"v2": 100}, r
    r = connect(tcsb, f"{VIP4}:9080", 100, bind=CLIENT_V4["plain"])
    assert r["errors"] == {} and by_version(r) == {"v1": 100}, r
    r = connect(tcsb, f"{VIP4}:9080", 2, bind=CLIENT_V4["denied"])
    assert r["counts"] == {} and r["errors"] == {"ETIMEDOUT": 2}, r
    st = Steerctl(tcsb, tcd).status()["web"]
    assert st["layers"]["tc"]["denied"] >= 2, st["layers"]


def test_long_lived_connection_survives_split_change_and_restart(tcsb, tcd):
    tcd.write_route("web", route({"v1": 100, "v2": 0}))
    tcd.start()
    p = subprocess.Popen(tcsb.in_ns("c", [PYTHON, PEER, "hold", "--seconds", "8",
                                          "--interval-ms", "50", f"{VIP4}:9090"]),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    tcsb.procs.append(p)
    assert p.stdout.readline().strip() == "CONNECTED"
    time.sleep(1)
    tcd.write_route("web", route({"v1": 0, "v2": 100}))
    time.sleep(1)
    r = connect(tcsb, f"{VIP4}:9080", 20, sport_base=23000)
    assert by_version(r) == {"v2": 20}, r  # the change is live for new flows
    tcd.stop()
    time.sleep(0.5)  # no steerd at all: the datapath runs from its pins
    off = tcd.log_offset()
    tcd.start()
    log = tcd.log_since(off)
    # the new steerd swapped its program into the filters left in place
    assert "tc ingress on rc0 (ifindex" in log and "program replaced" in log, log
    out, err = p.communicate(timeout=30)
    held = json.loads(out)
    assert held["errors"] == [] and len(held["idents"]) == 1, held
    assert held["idents"][0].startswith("v1-"), held
    assert held["answers"] > 50 and held["max_gap_ms"] < 1000, held
    assert tc_filter(tcsb, "rc0") and tc_filter(tcsb, "rb0")


def test_interface_created_later_is_steered_within_1s(tcsb, tcd):
    tcd.write_route("web", route({"v1": 0, "v2": 100}))
    tcd.start()
    ipc, ipr = ["ip", "-n", tcsb.ns["c"]], ["ip", "-n", tcsb.ns["r"]]
    t0 = time.monotonic()
    subprocess.run(ipr + ["link", "add", "rc1", "type", "veth", "peer", "name", "c1",
                          "netns", tcsb.ns["c"]], check=True)
    attached = None
    while time.monotonic() - t0 < 3:
        if tc_filter(tcsb, "rc1"):
            attached = time.monotonic() - t0
            break
        time.sleep(0.02)
    assert attached is not None and attached < 1.0, (attached, tcd.log_since()[-2000:])
    print(f"tc program on rc1 {attached * 1000:.0f} ms after the link was created")
    for cmd in (ipr + ["addr", "add", "10.244.7.1/24", "dev", "rc1"],
                ipc + ["addr", "add", "10.244.7.5/24", "dev", "c1"],
                ipr + ["link", "set", "rc1", "up"], ipc + ["link", "set", "c1", "up"],
                ipc + ["route", "add", f"{NEW_VIP}/32", "via", "10.244.7.1"]):
        subprocess.run(cmd, check=True)
    r = connect(tcsb, f"{NEW_VIP}:9080", 20, bind="10.244.7.5")
    assert r["errors"] == {} and by_version(r) == {"v2": 20}, r


def test_cleanup_detaches_tc(tcsb, tcd):
    tcd.write_route("web", route({"v1": 100}))
    tcd.start()
    assert tc_filter(tcsb, "rc0") and tc_filter(tcsb, "rb0")
    tcd.cleanup()
    assert not tc_filter(tcsb, "rc0") and not tc_filter(tcsb, "rb0")
    assert not os.path.exists(tcsb.pin_dir)
    r = connect(tcsb, f"{VIP4}:9080", 2)
    assert r["counts"] == {}, r  # untranslated: unreachable at the router


def test_trace_shows_tc_decisions(tcsb, tcd):
    """`steerctl trace` shows each new flow the TC layer decides, with the client's
    address and port (known at TC, unlike at connect()), and each dropped SYN."""
    tcd.write_route("web", route({"v1": 100, "v2": 0}))
    tcd.start()
    p = subprocess.Popen([STEERCTL, "--bpffs", tcsb.pin_dir, "-o", "json", "trace", "web"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stderr.readline().startswith("steerctl: tracing"), "no lease"
        r = connect(tcsb, f"{VIP4}:9080", 4, sport_base=23000, bind=CLIENT_V4["plain"])
        assert r["errors"] == {} and by_version(r) == {"v1": 4}, r
        r = connect(tcsb, f"{VIP4}:9080", 1, bind=CLIENT_V4["denied"])
        assert r["errors"] == {"ETIMEDOUT": 1}, r
    finally:
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    ev = [json.loads(line) for line in out.splitlines()]
    steered = [e for e in ev if e["verdict"] == "steered"]
    denied = [e for e in ev if e["verdict"] == "denied"]
    assert len(steered) == 4 and len(denied) >= 1 and len(ev) == len(steered) + len(denied), out
    for e in ev:
        assert e["layer"] == "tc" and e["route"] == "web" and e["proto"] == "tcp", e
        assert e["frontend"] == f"{VIP4}:9080", e
        assert e["client"]["uid"] == 0 and e["client"]["cgroup_id"] == 0, e
    # the client's port is known at TC: one event per flow, each with its own
    assert sorted(e["client"]["address"] for e in steered) == [
        f'{CLIENT_V4["plain"]}:{port}' for port in range(23000, 23004)], steered
    for e in steered:
        assert e["rule"] == "default" and e["version"] == "v1", e
        assert e["backend"].split(":")[0] in ("10.244.1.5", "10.244.1.6"), e
    for e in denied:
        assert e["client"]["address"].startswith(CLIENT_V4["denied"] + ":"), e
        assert e["reason"] == "policy_deny" and e["backend"] is None, e


# ---- passive health at TC (issue 12) ------------------------------------------------

DOWN = "10.244.1.5:9999"  # the backend namespace has the address, nothing listens: RST


def health_route(versions, split, health):
    vs = "".join(f"  {n}: {{backends: [{', '.join(b)}]}}\n" for n, b in versions.items())
    sp = ", ".join(f"{k}: {v}" for k, v in split.items())
    return (f'kind: Route\nname: web\nfrontends: ["{VIP4}:9080"]\nversions:\n{vs}'
            f"rules:\n  - name: default\n    split: {{{sp}}}\nhealth: {health}\n")


def backend_health(st, version, addr):
    for v in st["web"]["versions"]:
        if v["name"] == version:
            for b in v["backends"]:
                if b["address"] == addr:
                    return b["health"]
    raise KeyError((version, addr))


def verdicts(sb, reason, port=9469):
    """steer_verdicts_total{reason=REASON} from steerd's /metrics, which it serves in
    the router namespace (its own loopback: any port is free there)."""
    from test_metrics import sample
    code = ("import urllib.request; print(urllib.request.urlopen("
            f"'http://127.0.0.1:{port}/metrics', timeout=5).read().decode())")
    p = subprocess.run(sb.in_ns("r", [PYTHON, "-c", code]), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return sample(p.stdout, "steer_verdicts_total", reason=reason)


def test_tc_refusing_backend_ejected_after_exactly_n_failures(tcsb, tcd):
    tcd.write_route("web", health_route({"v1": [DOWN, "10.244.1.6:9080"]}, {"v1": 100},
                                        "{failures: 3, eject: 30s}"))
    tcd.start()
    # a flow's backend is a hash of its 5-tuple: about half of 60 go to DOWN,
    # and only the first 3 of those reach it
    r = connect(tcsb, f"{VIP4}:9080", 60, sport_base=24000)
    assert r["errors"] == {"ECONNREFUSED": 3}, r
    assert r["counts"] == {"v1-b": 57}, r
    st = Steerctl(tcsb, tcd).status()
    h = backend_health(st, "v1", DOWN)
    assert h["state"] == "ejected" and h["ejections"] == 1, h
    assert backend_health(st, "v1", "10.244.1.6:9080")["state"] == "ok"
    # once ejected, it gets no new TC flow: no client sees an error
    r = connect(tcsb, f"{VIP4}:9080", 100, sport_base=24100)
    assert r["errors"] == {} and r["counts"] == {"v1-b": 100}, r


def test_tc_whole_version_down_fails_over_by_split(tcsb, tcd):
    tcd.write_route("web", health_route(
        {"v1": [DOWN], "v2": ["10.244.2.7:9080"], "v3": ["10.244.3.3:9080"]},
        {"v1": 50, "v2": 50, "v3": 0}, "{failures: 2, eject: 30s}"))
    tcd.metrics = "127.0.0.1:9469"
    tcd.start()
    ctl = Steerctl(tcsb, tcd)
    r = connect(tcsb, f"{VIP4}:9080", 200, sport_base=24300)
    # v1's share goes to v2; the 0% v3 stays dark
    assert r["errors"] == {"ECONNREFUSED": 2}, r
    assert r["counts"] == {"v2-a": 198}, r
    assert backend_health(ctl.status(), "v1", DOWN)["state"] == "ejected"
    # v1's half of the flows, less the 2 that reached it
    assert 50 <= verdicts(tcsb, "failover") <= 150


def test_tc_nothing_left_is_dropped_and_counted(tcsb, tcd):
    tcd.write_route("web", health_route(
        {"v1": [DOWN], "v2": ["10.244.2.7:9999"]}, {"v1": 50, "v2": 50},
        "{failures: 1, eject: 30s}"))
    tcd.metrics = "127.0.0.1:9469"
    tcd.start()
    ctl = Steerctl(tcsb, tcd)
    # one refused connect ejects each version's only backend; then every SYN
    # is dropped at TC (timeout under the RTO: one SYN per connection)
    r = connect(tcsb, f"{VIP4}:9080", 8, sport_base=24600, timeout=0.5)
    assert r["counts"] == {} and r["errors"] == {"ECONNREFUSED": 2, "ETIMEDOUT": 6}, r
    st = ctl.status()
    assert backend_health(st, "v1", DOWN)["state"] == "ejected"
    assert backend_health(st, "v2", "10.244.2.7:9999")["state"] == "ejected"
    assert st["web"]["refused"]["no_route"] == 6, st["web"]
    assert verdicts(tcsb, "all_ejected") == 6


def test_tc_ejected_backend_back_after_eject_time(tcsb, tcd):
    tcd.write_route("web", health_route({"v1": [DOWN, "10.244.1.6:9080"]}, {"v1": 100},
                                        "{failures: 2, eject: 1s}"))
    tcd.start()
    r = connect(tcsb, f"{VIP4}:9080", 20, sport_base=24700)
    assert r["errors"] == {"ECONNREFUSED": 2}, r
    srv = subprocess.Popen(tcsb.in_ns("b", [PYTHON, os.path.join(FIXTURES, "echo_server.py"),
                                            f"{DOWN}=v1-back"]),
                           stdout=subprocess.PIPE, text=True)
    tcsb.procs.append(srv)
    try:
        assert srv.stdout.readline().strip() == "READY"
        time.sleep(1.2)
        r = connect(tcsb, f"{VIP4}:9080", 40, sport_base=24800)
        assert r["errors"] == {}, r
        assert r["counts"].get("v1-back", 0) >= 10, r
        h = backend_health(Steerctl(tcsb, tcd).status(), "v1", DOWN)
        assert h["state"] == "ok" and h["failures"] == 0, h
    finally:
        kill_pid(srv)
