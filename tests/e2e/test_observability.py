# SPDX-License-Identifier: BSD-2-Clause
"""Connection outcomes, /metrics, steerctl stats and trace against real connections
(issue 5, docs/DESIGN.md §6): every counter equals what the clients really did, exactly."""
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

    def steered(self, n, bind=None):
        r = self.client.run(f"{VIP}:9080", count=n, bind=bind)
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


def check_buckets(fams, version, total_s):
    """Bucket i holds samples in [2^(i-1), 2^i) microseconds (i = 0: under 1 us), so the
    buckets bound the sum from both sides: an off-by-one in the kernel's log2 fails."""
    cum = [(float(lab["le"]), v) for n, lab, v in
           fams["steer_version_connect_rtt_seconds"]["samples"]
           if n.endswith("_bucket") and lab["route"] == "obs" and lab["version"] == version]
    assert len(cum) == 24 and cum[-1][0] == float("inf")
    lo = hi = prev = 0.0
    for i, (le, c) in enumerate(cum):
        n, prev = c - prev, c
        assert le == (2 ** i / 1e6 if i < 23 else float("inf"))
        if n:
            assert i < 23, "an RTT over 4 s on loopback"
            lo += n * (2 ** (i - 1) / 1e6 if i else 0.0)
            hi += n * 2 ** i / 1e6
    assert lo <= total_s < hi or lo == hi == total_s == 0, (version, lo, total_s, hi)


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
        check_buckets(fams, v, s)
    assert promtext.value(fams, "steer_route_policy_denials_total", **lab) == t.denied
    assert promtext.value(fams, "steer_route_no_route_total", **lab) == t.noroute
    steered = sum(t.expected_versions().values())
    assert promtext.value(fams, "steer_verdicts_total", reason="steered") == steered
    assert promtext.value(fams, "steer_verdicts_total", reason="policy_deny") == t.denied
    assert promtext.value(fams, "steer_verdicts_total", reason="no_rule") == t.noroute
    assert promtext.value(fams, "steer_route_split_ratio", route="obs", rule="default",
                          version="v2") == 0.5


def stats_json(sb):
    p = subprocess.run([STEERCTL, "--bpffs", sb.pin_dir, "-o", "json", "stats", "obs"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert [r["name"] for r in doc["routes"]] == ["obs"]
    return doc["routes"][0]


def check_stats(route, t):
    """steerctl -o json stats shows exactly what /metrics shows."""
    exp_b = t.expected_backends()
    ver = t.expected_versions()
    total = sum(ver.values())
    assert route["connections"] == total
    assert route["denied"] == {"sock": t.denied, "tc": 0}
    assert route["no_route"] == {"sock": t.noroute, "tc": 0}
    rules = {r["name"]: r["connections"] for r in route["rules"]}
    assert rules["default"]["v1"] == {"sock": ver["v1"], "tc": 0}
    assert rules["default"]["v2"] == {"sock": ver["v2"], "tc": 0}
    assert rules["slow"]["v3"] == {"sock": ver["v3"], "tc": 0}
    for v in route["versions"]:
        name = v["name"]
        assert v["connections"] == ver[name], name
        assert v["share"] == pytest.approx(ver[name] / total)
        failed = sum(exp_b[b][2] for b in BACKENDS[name])
        assert v["failed"] == failed, name
        assert v["failure_rate"] == pytest.approx(failed / ver[name] if ver[name] else 0)
        est = sum(exp_b[b][1] for b in BACKENDS[name])
        assert v["established"] == v["closed"] == est and v["active"] == 0, v
        assert v["connect_rtt"]["count"] == est
        assert [b["address"] for b in v["backends"]] == BACKENDS[name]
        for b in v["backends"]:
            conns, est, failed, nbytes = exp_b[b["address"]]
            got = (b["connections"], b["established"], b["failed"], b["bytes_received"])
            assert got == (conns, est, failed, nbytes), (b["address"], got)
            assert b["layers"]["sock"]["connections"] == conns
            assert b["layers"]["tc"]["connections"] == 0
            assert b["bytes_sent"] == 0 and b["closed"] == est and b["active"] == 0


def test_outcomes_metrics_and_restart(steerd, client, cg, sandbox):
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
    check_stats(stats_json(sandbox), t)

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
    check_stats(stats_json(sandbox), t)


def start_steerd(steerd, cg, client):
    steerd.write_route("obs", obs_route(cg))
    steerd.start()
    return Traffic(client)


def test_stats_watch_json_rates(steerd, client, cg, sandbox):
    t = start_steerd(steerd, cg, client)
    t.steered(5)
    p = subprocess.Popen([STEERCTL, "--bpffs", sandbox.pin_dir, "-o", "json", "stats", "obs",
                          "--watch", "--interval", "0.4", "--count", "5"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sandbox.procs.append(p)
    first = json.loads(p.stdout.readline())  # the first frame is out: traffic starts now
    t.steered(30)
    t.deny(2)
    rest = [json.loads(line) for line in p.stdout]
    assert p.wait(timeout=30) == 0, p.stderr.read()
    frames = [first] + rest
    assert len(frames) == 5
    conns = [f["routes"][0]["connections"] for f in frames]
    assert conns == sorted(conns) and conns[-1] - conns[0] == 30 and conns[0] >= 5, conns
    assert frames[-1]["routes"][0]["denied"]["sock"] == 2
    # rates x interval add up to exactly the connections made, per version
    for v in ("v1", "v2"):
        made = (sum(n for b, n in t.backends.items() if t.version_of(b) == v)
                + (t.refused if v == "v2" else 0))
        before = next(x for x in first["routes"][0]["versions"] if x["name"] == v)
        after = next(x for x in frames[-1]["routes"][0]["versions"] if x["name"] == v)
        delta = sum(next(x for x in f["routes"][0]["versions"] if x["name"] == v)["rates"]
                    ["connections_per_second"] * f["interval_s"] for f in rest)
        assert after["connections"] == made
        assert delta == pytest.approx(after["connections"] - before["connections"])
    shares = sum(x["rates"]["share"] for x in rest[0]["routes"][0]["versions"])
    assert shares == pytest.approx(1.0) or shares == 0


def test_stats_text_and_usage(steerd, client, cg, sandbox):
    t = start_steerd(steerd, cg, client)
    t.steered(4)
    ctl = [STEERCTL, "--bpffs", sandbox.pin_dir]
    p = subprocess.run(ctl + ["stats", "obs", "--watch", "-i", "0.2", "-n", "2"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("route obs") == 2 and p.stdout.count("VERSION / BACKEND") == 2
    assert f"  {DEAD}" in p.stdout
    p = subprocess.run(ctl + ["stats"], stdout=subprocess.PIPE, text=True, timeout=30)
    assert p.returncode == 0 and "route obs" in p.stdout and "4 connections" in p.stdout
    for bad, code in ((["stats", "nope"], 1), (["stats", "--count", "2"], 2),
                      (["stats", "--watch", "-i", "0"], 2), (["stats", "a", "b"], 2)):
        p = subprocess.run(ctl + bad, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=30)
        assert p.returncode == code and p.stderr.startswith("steerctl: "), (bad, p)
    p = subprocess.run([STEERCTL, "help", "stats"], stdout=subprocess.PIPE, text=True)
    assert "EXAMPLES" in p.stdout and "--watch" in p.stdout


def trace_lease(sb):
    """until_ns of the tracing lease, read with bpftool."""
    out = subprocess.run(["bpftool", "-j", "map", "dump", "pinned",
                          os.path.join(sb.pin_dir, "maps", "steer_trace_v1")],
                         stdout=subprocess.PIPE, check=True, text=True).stdout
    return json.loads(out)[0]["formatted"]["value"]["until_ns"]


def start_tracer(sb, *args):
    p = subprocess.Popen([STEERCTL, "--bpffs", sb.pin_dir, "-o", "json", "trace", *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sb.procs.append(p)
    line = p.stderr.readline()  # printed once the lease is set
    assert line.startswith("steerctl: tracing"), line
    return p


def test_trace_one_line_per_connection(steerd, client, cg, sandbox):
    t = start_steerd(steerd, cg, client)
    assert trace_lease(sandbox) == 0  # nobody traces: off in the kernel
    t.steered(3)                      # not traced
    p = start_tracer(sandbox, "obs")
    assert trace_lease(sandbox) > time.monotonic_ns()
    before = dict(t.backends), t.refused
    t.steered(12, bind="10.244.9.5")  # a bound socket: its address is known at connect
    t.deny(2)
    t.no_route(3)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    assert trace_lease(sandbox) == 0  # cleared on exit
    ev = [json.loads(line) for line in out.splitlines()]
    assert len(ev) == 12 + 2 + 3, out
    verdicts = [e["verdict"] for e in ev]
    assert verdicts.count("steered") == 12 and verdicts.count("denied") == 2
    assert verdicts.count("no_route") == 3
    seen = {}
    for e in ev:
        assert e["route"] == "obs" and e["layer"] == "sock" and e["proto"] == "tcp"
        assert e["client"]["uid"] == 0 and e["client"]["pid"] > 0
        assert e["client"]["cgroup_id"] == os.stat(sandbox.make_cgroup(
            "blocked" if e["verdict"] == "denied" else "clients")).st_ino
        assert e["client"]["cgroup"] == cg("blocked" if e["verdict"] == "denied" else "clients")
        assert e["time"].endswith("Z")
        if e["verdict"] == "steered":
            assert e["client"]["address"] == "10.244.9.5", e
            assert e["frontend"] == f"{VIP}:9080" and e["rule"] == "default"
            assert e["reason"] == "steered"
            assert e["backend"] in BACKENDS[e["version"]], e
            seen[e["backend"]] = seen.get(e["backend"], 0) + 1
        elif e["verdict"] == "denied":
            assert e["client"]["address"] is None  # unbound: not chosen yet at connect
            assert e["reason"] == "policy_deny" and e["backend"] is None
            assert e["rule"] is None and e["version"] is None
        else:
            assert e["frontend"] == f"{VIP}:9081" and e["reason"] == "no_rule"
            assert e["backend"] is None and e["rule"] is None
    made = {b: n - before[0].get(b, 0) for b, n in t.backends.items()}
    made[DEAD] = t.refused - before[1]
    assert seen == {b: n for b, n in made.items() if n}, (seen, made)


def test_trace_lease_runs_out_after_kill9(steerd, client, cg, sandbox):
    start_steerd(steerd, cg, client)
    p = start_tracer(sandbox)
    p.kill()
    p.wait(timeout=10)
    until = trace_lease(sandbox)
    assert time.monotonic_ns() < until <= time.monotonic_ns() + 3_000_000_000
    # text lines: one per decision, key=value
    p = subprocess.Popen([STEERCTL, "--bpffs", sandbox.pin_dir, "trace", "--count", "2"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sandbox.procs.append(p)
    assert p.stderr.readline().startswith("steerctl: tracing all routes")
    Traffic(client).steered(2)
    out, _ = p.communicate(timeout=30)
    lines = out.splitlines()
    assert p.returncode == 0 and len(lines) == 2, out
    for line in lines:
        assert " sock steered  client=- uid=0 cgroup=" + cg("clients") in line, line
        assert f"frontend={VIP}:9080/tcp route=obs rule=default version=v" in line, line
    p = subprocess.run([STEERCTL, "--bpffs", sandbox.pin_dir, "trace", "nope"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    assert p.returncode == 1 and "no route named 'nope'" in p.stderr


HOLD = r"""
import os, socket, sys
with open(os.path.join(sys.argv[1], "cgroup.procs"), "w") as f:
    f.write(str(os.getpid()))
s = socket.create_connection(("10.96.0.41", 9080), timeout=2)
n = len(s.recv(256))
print(n, flush=True)
sys.stdin.readline()
s.close()
"""


def test_active_connection_across_restart(steerd, cg, sandbox):
    """A connection open across a kill -9 restart is active until it closes, then
    counted closed with its bytes, once, by the program that took over."""
    port = free_port()
    steerd.metrics = f"127.0.0.1:{port}"
    steerd.write_route("hold", "kind: Route\nname: hold\nfrontends: [10.96.0.41:9080]\n"
                       "versions:\n  v1: {backends: [10.244.1.5:9080]}\n"
                       "rules:\n  - name: default\n    split: {v1: 100}\n")
    steerd.start()
    lab = dict(route="hold", version="v1", backend="10.244.1.5:9080", layer="sock")

    def metric(name):
        return promtext.value(promtext.parse(scrape(port)), name, **lab)

    p = subprocess.Popen(sandbox.nsenter(["/usr/bin/python3", "-c", HOLD,
                                          sandbox.make_cgroup("clients")]),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    sandbox.procs.append(p)
    nbytes = int(p.stdout.readline())
    assert nbytes > 0
    assert metric("steer_backend_active_connections") == 1
    steerd.kill9()
    steerd.start()
    assert metric("steer_backend_active_connections") == 1
    assert metric("steer_backend_connections_established_total") == 1
    p.stdin.write("\n")
    p.stdin.close()
    assert p.wait(timeout=10) == 0
    deadline = time.monotonic() + 5
    while metric("steer_backend_connections_closed_total") != 1:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert metric("steer_backend_active_connections") == 0
    assert metric("steer_backend_received_bytes_total") == nbytes
    assert metric("steer_backend_connect_failures_total") == 0
    assert metric("steer_backend_connections_total") == 1


def test_kernel_connect_timeout_counted_once(steerd, client, cg, sandbox):
    """The kernel giving up on SYN retransmissions (not the application) is one failure."""
    sysctl = sandbox.nsenter(["sysctl", "-q", "-w"])
    old = subprocess.run(sandbox.nsenter(["sysctl", "-n", "net.ipv4.tcp_syn_retries"]),
                         stdout=subprocess.PIPE, text=True, check=True).stdout.strip()
    subprocess.run(sysctl + ["net.ipv4.tcp_syn_retries=1"], check=True)
    try:
        port = free_port()
        steerd.metrics = f"127.0.0.1:{port}"
        steerd.write_route("obs", obs_route(cg))
        steerd.start()
        t0 = time.monotonic()
        r = client.run(f"{VIP}:9080", count=1, uid=1001, timeout_s=20)
        assert r["errors"] == {"ETIMEDOUT": 1} and time.monotonic() - t0 < 15, r
    finally:
        subprocess.run(sysctl + [f"net.ipv4.tcp_syn_retries={old}"], check=True)
    fams = promtext.parse(scrape(port))
    lab = dict(route="obs", version="v3", backend=SILENT, layer="sock")
    assert promtext.value(fams, "steer_backend_connections_total", **lab) == 1
    assert promtext.value(fams, "steer_backend_connect_failures_total", **lab) == 1
    assert promtext.value(fams, "steer_backend_connections_established_total", **lab) == 0
    assert promtext.value(fams, "steer_backend_connections_closed_total", **lab) == 0
    assert promtext.value(fams, "steer_version_connect_rtt_seconds_count",
                          route="obs", version="v3") == 0


WIDE_N = 1000
WIDE_LIVE = 700  # index of the one backend that answers: past 255


def wide_route():
    """v1: 1,000 backends, all DEAD's address on ports 10000.. (RST at once)
    but for index WIDE_LIVE, a live server."""
    host = DEAD.split(":")[0]
    bs = [f"{host}:{10000 + i}" for i in range(WIDE_N)]
    bs[WIDE_LIVE] = LIVE["v1"][0]
    return (f"kind: Route\nname: wide\nfrontends: [\"{VIP}:9080\"]\n"
            f"versions:\n  v1: {{backends: [{', '.join(bs)}]}}\n"
            f"rules:\n  - name: default\n    split: {{v1: 100}}\n"), bs


def test_wide_version_status_stats_metrics(steerd, client, sandbox):
    """A version of 1,000 backends: connections spread over nearly all of them,
    and steerctl status, stats and /metrics show every backend with its own
    counts, the live one at index 700 included."""
    text, bs = wide_route()
    steerd.write_route("wide", text)
    port = free_port()
    steerd.metrics = f"127.0.0.1:{port}"
    steerd.start()
    n = 3 * WIDE_N
    r = client.run(f"{VIP}:9080", count=n)
    assert set(r["errors"]) <= {"ECONNREFUSED"}, r
    live = r["backends"].get(bs[WIDE_LIVE], 0)
    assert set(r["backends"]) <= {bs[WIDE_LIVE]}, r
    assert r["errors"].get("ECONNREFUSED", 0) == n - live
    ctl = [STEERCTL, "--bpffs", sandbox.pin_dir]
    st = json.loads(subprocess.run(ctl + ["-o", "json", "status", "wide"], check=True,
                                   stdout=subprocess.PIPE, text=True, timeout=60).stdout)
    ver = st["routes"][0]["versions"][0]
    assert [b["address"] for b in ver["backends"]] == bs
    assert all(b["health"]["state"] == "ok" for b in ver["backends"])
    p = subprocess.run(ctl + ["status", "wide"], stdout=subprocess.PIPE, text=True,
                       timeout=60)
    assert p.returncode == 0 and bs[-1] in p.stdout and bs[WIDE_LIVE] in p.stdout
    stats = json.loads(subprocess.run(ctl + ["-o", "json", "stats", "wide"], check=True,
                                      stdout=subprocess.PIPE, text=True,
                                      timeout=60).stdout)
    be = {b["address"]: b for v in stats["routes"][0]["versions"] for b in v["backends"]}
    assert len(be) == WIDE_N
    assert be[bs[WIDE_LIVE]]["connections"] == live
    assert sum(b["connections"] for b in be.values()) == n
    assert sum(b["failed"] for b in be.values()) == n - live
    # spread: 3 draws a backend on average, nearly all reached, far past 255
    used = [i for i, a in enumerate(bs) if be[a]["connections"]]
    assert len(used) > 800 and max(used) > 900, len(used)
    conns = {}
    for name, labels, value in promtext.parse(scrape(port))[
            "steer_backend_connections_total"]["samples"]:
        if labels["route"] == "wide":
            conns[labels["backend"]] = conns.get(labels["backend"], 0) + value
    assert len(conns) == WIDE_N and sum(conns.values()) == n
    assert conns[bs[WIDE_LIVE]] == live
