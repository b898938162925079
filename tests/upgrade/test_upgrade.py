# SPDX-License-Identifier: BSD-2-Clause
"""Upgrade in place under load (docs/DESIGN.md §3 "Restart safety"; docs/upgrade.md).

For every release in tests/upgrade/releases (built by `make upgrade-test` into
build/upgrade/<commit>/), in a sandbox of its own (tests/e2e/sandbox.py: netns,
cgroup, pin dir): the release's steerd applies a route with a 70/30 split; long-lived
TCP connections and a connected UDP socket are opened through the frontend; a load
client connects in a loop; the old steerd gets SIGTERM and the new build/steerd
starts on the same pins and routes; the load runs 2.5 s more.  Then: not one failed
connect, the long-lived sockets still answer from the same backend and still show
the frontend as their peer, the split is the file's, the new steerctl shows the
route, and the counters did what EXPECTED_COUNTERS says.  The new steerd's
--cleanup and the sandbox's close leave nothing behind.
"""
import json
import os
import select
import subprocess
import time
import urllib.request

import pytest

import promtext
from sandbox import PYTHON, REPO, Sandbox
from steer import STEERCTL, STEERD, Client, Steerd, binaries_missing
from test_metrics import free_port

HERE = os.path.dirname(os.path.abspath(__file__))
RELEASES = os.path.join(HERE, "releases")
# The releases' builds (make upgrade-test); STEER_E2E_BUILD points at the new one.
UPGRADE_BUILD = os.environ.get("STEER_UPGRADE_BUILD") or os.path.join(REPO, "build",
                                                                      "upgrade")
TC_PEER = os.path.join(REPO, "tests", "e2e", "tc_peer.py")
PEER = os.path.join(HERE, "upgrade_peer.py")

# What the counters of a release do when its steerd is replaced by this build
# (docs/upgrade.md, "Counters"): "carried" (every counter goes on from where it
# was) or "reset" (the new counter maps start at zero), for all counters or as
# {counter name (see counters()): behaviour}. A release not named here is
# expected to carry them (same layout, same pins).
EXPECTED_COUNTERS = {
    # Map ABI v2 renamed every counter map (steer_stats_v2, ..._v2): the new
    # steerd counts from zero, and connections steered by 82b3f23's programs
    # are not counted when they close (docs/upgrade.md).
    "82b3f23": "reset",
}

VIP = "10.96.0.20"
SPLIT = {"v1": 70, "v2": 30}
BACKENDS = {"v1": ["10.244.1.5", "10.244.1.6"], "v2": ["10.244.2.7", "10.244.2.8"]}
HELD_TCP = 4
LOAD_AFTER_S = 2.5  # load kept on after the new steerd is ready


def releases():
    out = []
    with open(RELEASES) as f:
        for line in f:
            words = line.split("#", 1)[0].split()
            if words:
                out.append(words[0])
    return out


ROUTE = f"""kind: Route
name: upgrade
frontends:
  - {VIP}:9080                # identity servers: connect, one line, close
  - {VIP}:9090                # echo servers: long-lived connections
  - {VIP}:9053/udp
versions:                     # no port: the frontend's
  v1: {{backends: [{", ".join(BACKENDS["v1"])}]}}
  v2: {{backends: [{", ".join(BACKENDS["v2"])}]}}
rules:
  - name: default
    split: {{v1: {SPLIT["v1"]}, v2: {SPLIT["v2"]}}}
"""


def in_ci():
    return os.environ.get("CI", "").lower() == "true"


def skip_or_fail(reason):
    if in_ci():
        pytest.fail(f"{reason} (CI=true: not skipping)")
    pytest.skip(reason)


def ctl(binary, sb, *args):
    """steerctl -o json ARGS of @binary (a release's or this build's)."""
    p = subprocess.run([binary, "--bpffs", sb.pin_dir, "-o", "json"] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=30)
    assert p.returncode == 0, f"{binary} {' '.join(args)}: {p.stderr}"
    return json.loads(p.stdout)


def counters(binary, sb, port):
    """The route's counters, one per counter map, from @binary's steerctl stats
    and steerd's /metrics: {name: value}.  Connection counts grow by one per
    connect; "active" is the held connections."""
    r = ctl(binary, sb, "stats", "upgrade")["routes"][0]
    fams = promtext.parse(scrape(port))
    vs = r["versions"]
    return {
        "rule connections (steer_stats)": sum(
            n for rule in r["rules"] for v in rule["connections"].values()
            for n in v.values()),
        "backend connections (steer_backend_stats)": r["connections"],
        "established (steer_backend_stats)": sum(v["established"] for v in vs),
        "closed (steer_backend_stats)": sum(v["closed"] for v in vs),
        "connect RTT samples (steer_rtt)": sum(v["connect_rtt"]["count"] for v in vs),
        "steered verdicts (steer_reasons)": int(promtext.value(
            fams, "steer_verdicts_total", reason="steered")),
        "active": sum(v["active"] for v in vs),
        "generation": r["generation"],
    }


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.read().decode()


def start_peer_servers(sb):
    """tc_peer.py echo (TCP, long-lived) and UDP servers on the backends."""
    procs = []
    for kind, port in (("serve-echo", 9090), ("serve-udp", 9053)):
        specs = [f"{a}:{port}={v}-{chr(ord('a') + i)}"
                 for v, addrs in BACKENDS.items() for i, a in enumerate(addrs)]
        p = subprocess.Popen(sb.nsenter([PYTHON, TC_PEER, kind] + specs),
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        sb.procs.append(p)
        r, _, _ = select.select([p.stdout], [], [], 10)
        assert r and p.stdout.readline().strip() == "READY", f"{kind} not ready"
        procs.append(p)
    return procs


def read_json_line(p, timeout=10):
    r, _, _ = select.select([p.stdout], [], [], timeout)
    assert r, "no answer from the client"
    line = p.stdout.readline()
    assert line, f"client exited: {p.poll()}"
    return json.loads(line)


def held_round(hold):
    hold.stdin.write("\n")
    hold.stdin.flush()
    return read_json_line(hold)


def assert_held_ok(rnd, first=None):
    """Every held socket answered, shows the frontend as its peer, and (after
    the upgrade) answers from the backend it had before."""
    assert [t[2] for t in rnd["tcp"]] == [None] * HELD_TCP, rnd
    assert {t[1] for t in rnd["tcp"]} == {f"{VIP}:9090"}, rnd
    ident, local, peer, err = rnd["udp"]
    assert err is None and peer == f"{VIP}:9053", rnd
    if first is not None:
        assert [t[0] for t in rnd["tcp"]] == [t[0] for t in first["tcp"]], (first, rnd)
        assert (ident, local) == tuple(first["udp"][:2]), (first, rnd)


# Counters that grow by one per connect (every connect made during and after
# the upgrade is steered, established and closed).
PER_CONNECT = ("rule connections (steer_stats)",
               "backend connections (steer_backend_stats)",
               "established (steer_backend_stats)", "closed (steer_backend_stats)",
               "connect RTT samples (steer_rtt)", "steered verdicts (steer_reasons)")


def counter_behaviour(name, before, after, made):
    if after[name] == before[name] + made:
        return "carried"
    if after[name] <= made:
        return "reset"
    return "other"


def assert_counters_carried(name, before, after, made):
    """The counter goes on from where it was: its value before the upgrade
    plus one per connect made since; the held connections are still active."""
    assert after[name] == before[name] + made, (name, before[name], after[name], made)
    assert after["active"] == before["active"] == HELD_TCP, (before, after)


def assert_counters_reset(name, before, after, made):
    """The new steerd counts in a new map from zero: at most one per connect
    made since the upgrade began."""
    assert after[name] <= made, (name, before[name], after[name], made)


ASSERT_COUNTERS = {"carried": assert_counters_carried, "reset": assert_counters_reset}


def expected_counters(release, name):
    want = EXPECTED_COUNTERS.get(release, "carried")
    return want if isinstance(want, str) else want[name]


def wait_active(binary, sb, port, want, timeout=5.0):
    """Counters once the closed connections' sockops callbacks have run."""
    deadline = time.monotonic() + timeout
    while True:
        st = counters(binary, sb, port)
        if st["active"] <= want or time.monotonic() > deadline:
            return st
        time.sleep(0.05)


@pytest.mark.parametrize("release", releases())
def test_upgrade_under_load(release, report):
    if os.geteuid() != 0:
        skip_or_fail("the upgrade test needs root")
    if binaries_missing():
        skip_or_fail("not built yet: " + ", ".join(binaries_missing()) + " (run make)")
    old_dir = os.path.join(UPGRADE_BUILD, release)
    old_steerd = os.path.join(old_dir, "steerd")
    old_steerctl = os.path.join(old_dir, "steerctl")
    if not (os.access(old_steerd, os.X_OK) and os.access(old_steerctl, os.X_OK)):
        skip_or_fail(f"release {release} not built in {old_dir} (run make upgrade-test)")

    t0 = time.monotonic()
    port = free_port()
    sb = Sandbox().open()
    try:
        sb.start_servers()
        start_peer_servers(sb)
        d = Steerd(sb, binary=[old_steerd])
        d.metrics = f"127.0.0.1:{port}"  # host loopback: steerd's own HTTP
        sb.closers.append(d.cleanup)
        d.write_route("upgrade", ROUTE)
        d.start()
        assert "upgrade" in [r["name"] for r in ctl(old_steerctl, sb, "status")["routes"]]

        clients = sb.make_cgroup("clients")
        hold = subprocess.Popen(
            sb.nsenter([PYTHON, PEER, "hold", "--cgroup", clients, "--tcp",
                        str(HELD_TCP), "--udp", f"{VIP}:9053", f"{VIP}:9090"]),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        sb.procs.append(hold)
        first = read_json_line(hold)
        assert_held_ok(first)
        before = wait_active(old_steerctl, sb, port, HELD_TCP)

        load = subprocess.Popen(
            sb.nsenter([PYTHON, PEER, "load", "--cgroup", clients, "--max-s", "60",
                        "--interval-ms", "1", f"{VIP}:9080"]),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        sb.procs.append(load)
        time.sleep(1.0)

        t_term = time.time()
        d.stop()  # SIGTERM, and wait for the exit
        assert d.proc.returncode == 0, d.log_since()
        t_exited = time.time()
        time.sleep(0.3)  # the datapath runs with no steerd at all
        d.binary = [STEERD]
        off = d.log_offset()
        t_start = time.time()
        d.start()
        t_ready = time.time()
        applied = [json.loads(x)["msg"].split("): ", 1)[-1]
                   for x in d.log_since(off).splitlines()
                   if x.startswith("{") and '"msg":"applied ' in x]
        time.sleep(LOAD_AFTER_S)
        load.stdin.write("\n")
        load.stdin.flush()
        out, _ = load.communicate(timeout=30)
        assert load.returncode == 0
        r = json.loads(out)

        second = held_round(hold)
        split = Client(sb).run(f"{VIP}:9080", count=1000)
        status = {x["name"]: x for x in ctl(STEERCTL, sb, "status")["routes"]}
        after = wait_active(STEERCTL, sb, port, HELD_TCP)

        # The figures first, so that a failed run shows them too.
        ok = r["ok_times"]
        no_steerd = sum(1 for t in ok if t_exited < t < t_start)
        v1 = sum(n for k, n in split["counts"].items() if k.startswith("v1"))
        made = r["total"] + split["total"]
        report(f"{release} -> {os.path.relpath(STEERD, REPO)}: {r['total']} connects "
               f"under load, {sum(r['errors'].values())} failed, {no_steerd} while no "
               f"steerd ran; SIGTERM->exit {t_exited - t_term:.2f}s, start->ready "
               f"{t_ready - t_start:.2f}s, longest gap between connects "
               f"{r['max_gap_s'] * 1000:.0f}ms; split after: v1 {v1 / 10:.1f}% "
               f"(file {SPLIT['v1']}%)")
        report(f"{release} new steerd's first apply: {applied[0] if applied else '?'}")
        report(f"{release} counters ({made} connects since the first reading):")
        for name in PER_CONNECT:
            report(f"  {name}: {before[name]} -> {after[name]}: "
                   f"{counter_behaviour(name, before, after, made)} "
                   f"(expected {expected_counters(release, name)})")
        for name in ("active", "generation"):
            report(f"  {name}: {before[name]} -> {after[name]}")

        # Zero failed connections, and the load really spanned the upgrade.
        assert r["errors"] == {}, r["failures"]
        assert ok[0] < t_term and ok[-1] > t_ready + LOAD_AFTER_S - 0.5, (t_term, t_ready)
        assert no_steerd > 0, "no connect while no steerd ran"
        assert r["peernames"] == [f"{VIP}:9080"], r["peernames"]
        # Long-lived sockets: same backend, frontend as their peer.
        assert_held_ok(second, first)
        report(f"{release}: {HELD_TCP} held TCP connections and 1 connected UDP socket "
               f"kept their backends and peer names")
        # The split after the upgrade is the file's, over all the backends.
        assert split["errors"] == {}, split
        assert abs(v1 / 1000 * 100 - SPLIT["v1"]) <= 4, split["counts"]
        assert sorted(b.split(":")[0] for b in split["backends"]) == \
            sorted(BACKENDS["v1"] + BACKENDS["v2"]), split["backends"]
        # The new steerctl shows the route as the file gives it.
        assert "upgrade" in status, status
        rule = status["upgrade"]["rules"][0]
        assert rule["name"] == "default" and rule["split"] == SPLIT, rule
        # The counters did what the release is expected to do with them.
        for name in PER_CONNECT:
            ASSERT_COUNTERS[expected_counters(release, name)](name, before, after, made)

        # The held connections close under the new programs: counted closed,
        # once each, where the counters carry over.
        hold.stdin.close()
        assert hold.wait(timeout=10) == 0
        final = wait_active(STEERCTL, sb, port, 0)
        closed = "closed (steer_backend_stats)"
        report(f"{release} held connections closed: active {after['active']} -> "
               f"{final['active']}, closed +{final[closed] - after[closed]}")
        if expected_counters(release, closed) == "carried":
            assert final["active"] == 0, final
            assert final[closed] == after[closed] + HELD_TCP, (after, final)
        # The new steerd's --cleanup, then the sandbox: nothing left behind.
        d.cleanup()
        assert not os.path.exists(sb.pin_dir), "pin dir left behind"
    finally:
        sb.close()
    assert not os.path.exists(sb.netns_path), "netns left behind"
    assert not os.path.exists(sb.cgroup), "cgroup left behind"
    for p in sb.procs:
        assert p.poll() is not None, f"pid {p.pid} still running"
    report(f"{release}: whole test {time.monotonic() - t0:.1f}s")


# Passive health across an upgrade (docs/upgrade.md): releases that have it.
HEALTH_RELEASES = [r for r in releases() if r != "82b3f23"]
# The sandbox has these addresses; nothing listens on these ports: RST.
DOWN = ["10.244.1.5:9997", "10.244.1.5:9998", "10.244.1.5:9999"]
UP = ["10.244.1.6:9080", "10.244.2.7:9080", "10.244.2.8:9080"]
# max-ejected 34 % of 6: two ejection slots, in page 0 of the version.
HEALTH_ROUTE = f"""kind: Route
name: health
frontends: ["{VIP}:9080"]
versions:
  v1: {{backends: [{", ".join(DOWN + UP)}]}}
rules:
  - name: default
    split: {{v1: 100}}
health: {{failures: 1, eject: 60s, max-ejected: 34%}}
"""


def health_states(sb):
    """The new steerctl's health of route "health"'s backends: {address: health}."""
    st = {x["name"]: x for x in ctl(STEERCTL, sb, "status")["routes"]}
    return {b["address"]: b["health"] for b in st["health"]["versions"][0]["backends"]}


@pytest.mark.parametrize("release", HEALTH_RELEASES)
def test_health_across_upgrade(release, report):
    """Ejections the release's programs made hold under the new ones, and so
    does the slot each took: the route stays as that release published it
    (one page of ejection slots), the new programs claim the second slot of
    that page for the next refusing backend and find none for the third
    (capped). The new steerctl then restores an ejection."""
    if os.geteuid() != 0:
        skip_or_fail("the upgrade test needs root")
    old_steerd = os.path.join(UPGRADE_BUILD, release, "steerd")
    if binaries_missing() or not os.access(old_steerd, os.X_OK):
        skip_or_fail(f"release {release} or this build not built (run make upgrade-test)")
    sb = Sandbox().open()
    try:
        sb.start_servers()
        d = Steerd(sb, binary=[old_steerd])
        d.metrics = f"127.0.0.1:{free_port()}"
        sb.closers.append(d.cleanup)
        d.write_route("health", HEALTH_ROUTE)
        d.start()
        # One connect at a time until one is refused: one backend ejected,
        # one of the two slots taken, by the release's programs.
        for _ in range(30):
            r = Client(sb).run(f"{VIP}:9080", count=1)
            if r["errors"]:
                break
        assert r["errors"] == {"ECONNREFUSED": 1}, r

        d.stop()
        assert d.proc.returncode == 0, d.log_since()
        d.binary = [STEERD]
        off = d.log_offset()
        d.start()
        assert "0 published, 1 unchanged" in d.log_since(off), d.log_since(off)
        h = health_states(sb)
        first = [a for a in DOWN if h[a]["state"] == "ejected"]
        assert len(first) == 1 and h[first[0]]["ejections"] == 1, h

        r = Client(sb).run(f"{VIP}:9080", count=120)
        h = health_states(sb)
        ejected = [a for a in DOWN if h[a]["state"] == "ejected"]
        capped = [a for a in DOWN if h[a]["capped"]]
        report(f"{release} -> new: ejected {first} before, {ejected} after; capped "
               f"{capped}; {r['errors']} of 120 connects after the upgrade")
        assert first[0] in ejected and len(ejected) == 2, h
        assert capped and capped[0] not in ejected, h
        assert all(h[a]["state"] == "ok" for a in UP), h

        out = ctl(STEERCTL, sb, "restore", "health", first[0])
        assert out["backends"][0]["passive_ejection_ended"], out
        assert health_states(sb)[first[0]]["state"] == "ok"
        d.cleanup()
    finally:
        sb.close()
    assert not os.path.exists(sb.netns_path), "netns left behind"
