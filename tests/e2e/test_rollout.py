# SPDX-License-Identifier: BSD-2-Clause
"""steerctl rollout (docs/DESIGN.md §7) against real connections: a healthy canary is
released step by step (the share real clients see rises with each step) and
promoted; a canary whose backend refuses every connect is rolled back at its first
step; a step with too little traffic waits its extra intervals, then passes or rolls
back; a signal or another steerctl's change stops it; bad arguments change nothing.

Clients run in the sandbox netns and test cgroup (tests/e2e/steer_probe.py --seq:
each connect with its wall time, compared with the events' "time").

Run: /usr/bin/python3 -m pytest -q tests/e2e/test_rollout.py   (as root)
"""
import json
import os
import signal
import subprocess
import time

import pytest

from steer import STEERCTL, Steerctl, map_snapshot

SHOP_VIP = "10.96.0.50:9080"
BROKEN_VIP = "10.96.0.51:9080"
SHOP = """\
kind: Route
name: shop
frontends: [10.96.0.50:9080]
versions:
  v1:
    backends: [10.244.1.5:9080, 10.244.1.6:9080]
  v2:
    backends: [10.244.2.7:9080, 10.244.2.8:9080]
rules:
  - name: testers
    match: {uids: [1001]}
    split: {v2: 100}
  - name: default
    split: {v1: 100, v2: 0}
"""
# v2's only backend is an address of the namespace with no listener: every
# connect to it is refused (RST), which sockops counts as failed.
BROKEN = """\
kind: Route
name: broken
frontends: [10.96.0.51:9080]
versions:
  v1:
    backends: [10.244.1.5:9080]
  v2:
    backends: [10.244.8.5:9080]
rules:
  - name: default
    split: {v1: 100, v2: 0}
"""
# BROKEN with passive health: two refused connects eject v2's backend, so the
# canary stops failing (its share fails over to v1) and only the ejection
# tells. --max-failure-rate 100% below: the rate alone never breaches.
SICK_VIP = "10.96.0.53:9080"
SICK = """\
kind: Route
name: sick
frontends: [10.96.0.53:9080]
versions:
  v1:
    backends: [10.244.1.5:9080]
  v2:
    backends: [10.244.8.5:9080]
rules:
  - name: default
    split: {v1: 100, v2: 0}
health: {failures: 2, eject: 30s}
"""
# Three versions: the canary's remainder is shared by the file's 3:1.
TRIO = """\
kind: Route
name: trio
frontends: [10.96.0.52:9080]
versions:
  a: {backends: [10.244.1.5:9080]}
  b: {backends: [10.244.1.6:9080]}
  c: {backends: [10.244.2.7:9080]}
rules:
  - name: pinned
    match: {uids: [1001]}
    split: {a: 100}
  - name: all
    split: {a: 75, b: 25, c: 0}
"""


@pytest.fixture(scope="module")
def steerd(module_steerd):
    module_steerd.write_routes({"shop": SHOP, "broken": BROKEN, "trio": TRIO,
                                "sick": SICK})
    return module_steerd.start()


@pytest.fixture(scope="module")
def ctl(sandbox, steerd):
    return Steerctl(sandbox, steerd)


def split_of(route, rule):
    return next(r for r in route["rules"] if r["name"] == rule)["split"]


def at_file_state(route):
    return (not route["override"]
            and all(r["split"] == r["file_split"] for r in route["rules"]))


@pytest.fixture
def fresh(ctl):
    for name in ("shop", "broken", "trio", "sick"):
        ctl.run("rollback", name, check=True)
    assert all(at_file_state(r) for r in ctl.status().values())
    return ctl


def rollout(sandbox, *args, json_out=True, timeout=30):
    """Run a rollout to the end: (exit status, events or stdout lines, stderr)."""
    argv = [STEERCTL, "--bpffs", sandbox.pin_dir] + (["-o", "json"] if json_out else [])
    p = subprocess.run(argv + ["rollout"] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=timeout)
    if json_out:
        return p.returncode, [json.loads(line) for line in p.stdout.splitlines()], p.stderr
    return p.returncode, p.stdout.splitlines(), p.stderr


def names(events):
    """Event names without the progress lines."""
    return [e["event"] for e in events if e["event"] != "progress"]


def seq_share(seq, t0, t1, v2=("v2-a", "v2-b")):
    """Share of v2 among the connects completed in [t0, t1], and their count."""
    win = [who for t, who in seq if t0 <= t <= t1]
    return (sum(w in v2 for w in win) / len(win) if win else 0.0), len(win)


def test_healthy_canary_released_step_by_step(fresh, sandbox, client):
    bg = client.start(SHOP_VIP, count=5000, interval_ms=5, duration_s=4.5, seq=True)
    try:
        time.sleep(0.3)  # traffic flows before the first step
        code, ev, err = rollout(sandbox, "shop", "--to", "v2", "--steps", "10,50,100",
                                "--interval", "1s", "--min-connections", "5")
    finally:
        res = client.wait(bg)
    assert code == 0, (ev, err)
    assert err == ""
    assert names(ev) == ["start", "step", "passed", "step", "passed", "step", "passed",
                         "promote", "done"], names(ev)
    start = ev[0]
    assert start["route"] == "shop" and start["version"] == "v2"
    assert start["steps"] == [10, 50, 100] and start["rules"] == ["default"]
    assert start["interval_s"] == 1 and start["max_failure_rate"] == 0.01
    assert start["min_connections"] == 5
    steps = [e for e in ev if e["event"] == "step"]
    passed = [e for e in ev if e["event"] == "passed"]
    assert [s["share"] for s in steps] == [10, 50, 100]
    assert [s["step"] for s in steps] == [1, 2, 3] and steps[0]["steps"] == 3
    for s in steps:  # the stepped rule gets the share; testers keep theirs
        assert split_of(s, "default") == {"v1": 100 - s["share"], "v2": s["share"]}
        assert split_of(s, "testers") == {"v1": 0, "v2": 100}
    gens = [s["generation"] for s in steps] + [ev[-2]["generation"]]
    assert gens == sorted(set(gens)), gens  # each publish is a new generation
    progress = [e for e in ev if e["event"] == "progress"]
    assert progress, "no progress events"
    assert all({"step", "share", "connections", "failed", "failure_rate", "left_s",
                "total_left_s"} <= set(p) for p in progress)
    assert all(e["time"] > 0 for e in ev)
    done = ev[-1]
    assert done["result"] == "promoted" and done["status"] == 0
    assert all(r["split"] == {"v1": 0, "v2": 100} for r in ev[-2]["rules"])

    # What real clients saw, step by step, and what the rollout counted.
    seq = res["seq"]
    assert not res["errors"], res["errors"]
    shares = []
    for s, p in zip(steps, passed):
        share, n = seq_share(seq, s["time"], p["time"])
        assert n > 30, (s, n)
        assert p["failed"] == 0 and p["failure_rate"] == 0 and p["connections"] >= 5
        v2_seen = round(share * n)
        assert abs(p["connections"] - v2_seen) <= max(5, 0.1 * v2_seen), (p, v2_seen)
        shares.append(share)
    assert shares[0] < shares[1] < shares[2], shares
    assert 0.02 < shares[0] < 0.25 and 0.3 < shares[1] < 0.7 and shares[2] > 0.97, shares
    after = [who for t, who in seq if t > done["time"] + 0.05]
    assert not after or all(w.startswith("v2") for w in after)

    st = fresh.status()["shop"]
    assert st["override"] is True
    assert all(r["split"] == {"v1": 0.0, "v2": 100.0} for r in st["rules"])


@pytest.mark.parametrize("json_out", [True, False], ids=["json", "text"])
def test_broken_canary_rolled_back_at_first_step(fresh, sandbox, client, json_out):
    bg = client.start(BROKEN_VIP, count=5000, interval_ms=5, duration_s=3, seq=True)
    try:
        time.sleep(0.3)
        t0 = time.time()
        code, out, err = rollout(sandbox, "broken", "--to", "v2", "--steps", "10,50,100",
                                 "--interval", "1s", "--max-failure-rate", "1%",
                                 "--min-connections", "5", json_out=json_out)
        t1 = time.time()
    finally:
        res = client.wait(bg)
    assert code == 1, (out, err)
    assert t1 - t0 < 5, "the breach was not judged within the first step"
    st = fresh.status()["broken"]
    assert at_file_state(st), st
    if json_out:
        ev = out
        assert names(ev) == ["start", "step", "breach", "rollback", "done"], names(ev)
        br = next(e for e in ev if e["event"] == "breach")
        assert br["step"] == 1 and br["share"] == 10
        assert br["connections"] >= 5 and br["failed"] == br["connections"]
        assert br["failure_rate"] == 1.0 and br["max_failure_rate"] == 0.01
        assert "100.00%" in br["reason"] and "1.00%" in br["reason"]
        rb = next(e for e in ev if e["event"] == "rollback")
        assert split_of(rb, "default") == {"v1": 100, "v2": 0}
        done = ev[-1]
        assert done["result"] == "rolled_back" and done["status"] == 1
        # judged at the end of the step's one interval, rolled back at once
        assert 1.0 <= rb["time"] - ev[1]["time"] < 1.5, (ev[1], rb)
        assert "100.00%" in done["message"] and "1.00%" in done["message"]
        assert err == ""
        # Refused connects (the canary) stop once the rollback is published.
        late = [w for t, w in res["seq"] if t > rb["time"] + 0.05]
        assert late and all(w == "v1" or w.startswith("v1") for w in late), late[:20]
    else:
        text = "\n".join(out)
        assert "\033" not in text  # a log, not a terminal: no control codes
        assert out[0].startswith("rollout broken: v2 at 10%, 50%, 100%")
        assert "step 1/3: v2 at 10%" in text and "step 2/3" not in text
        assert "rolled back" in text
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert lines[0].startswith("steerctl: rollout broken: v2 failed")
        assert "(100.00%)" in lines[0] and "--max-failure-rate 1.00%" in lines[0]
        assert "rolled back" in lines[0]
    assert res["errors"].get("ECONNREFUSED", 0) >= 5, res["errors"]


def test_ejected_canary_rolled_back_at_once(fresh, sandbox, client):
    bg = client.start(SICK_VIP, count=5000, interval_ms=5, duration_s=3, seq=True)
    try:
        time.sleep(0.3)
        t0 = time.time()
        code, ev, err = rollout(sandbox, "sick", "--to", "v2", "--steps", "10,50,100",
                                "--interval", "10s", "--max-failure-rate", "100%",
                                "--min-connections", "5")
        t1 = time.time()
    finally:
        res = client.wait(bg)
    assert code == 1, (ev, err)
    assert t1 - t0 < 3, "the ejection did not end the step at once"
    assert names(ev) == ["start", "step", "breach", "rollback", "done"], names(ev)
    br = next(e for e in ev if e["event"] == "breach")
    assert br["step"] == 1 and br["share"] == 10
    assert br["ejected"][0]["address"] == "10.244.8.5:9080", br
    assert 25000 < br["ejected"][0]["ejected_for_ms"] <= 30000, br
    assert br["all_ejected"] is True
    assert "ejected by passive health" in br["reason"], br
    assert "10.244.8.5:9080" in br["reason"] and "step 1/3" in br["reason"], br
    rb = next(e for e in ev if e["event"] == "rollback")
    assert rb["time"] - ev[1]["time"] < 2, (ev[1], rb)
    assert split_of(rb, "default") == {"v1": 100, "v2": 0}
    done = ev[-1]
    assert done["result"] == "rolled_back" and done["status"] == 1
    assert "ejected by passive health" in done["message"], done
    assert at_file_state(fresh.status()["sick"])
    # Two refused connects ejected it; the datapath sent the rest to v1.
    assert res["errors"] == {"ECONNREFUSED": 2}, res["errors"]

    # Still ejected: a new rollout fails its first step before any traffic.
    code, out, err = rollout(sandbox, "sick", "--to", "v2", "--steps", "50",
                             "--interval", "10s", json_out=False)
    assert code == 1, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "ejected by passive health" in lines[0], err
    assert "10.244.8.5:9080" in lines[0] and "rolled back" in lines[0], err


def test_too_few_connections_rolls_back_after_extensions(fresh, sandbox):
    t0 = time.monotonic()
    code, ev, err = rollout(sandbox, "shop", "--to", "v2", "--steps", "50,100",
                            "--interval", "300ms", "--min-connections", "5",
                            "--extend", "2")
    took = time.monotonic() - t0
    assert code == 1, (ev, err)
    assert names(ev) == ["start", "step", "extend", "extend", "too_few", "rollback",
                         "done"], names(ev)
    ext = [e for e in ev if e["event"] == "extend"]
    assert [e["extension"] for e in ext] == [1, 2] and ext[0]["extend"] == 2
    few = next(e for e in ev if e["event"] == "too_few")
    assert few["connections"] == 0 and few["intervals"] == 3
    assert "--min-connections 5" in few["reason"] and "too little traffic" in few["reason"]
    assert ev[-1]["result"] == "rolled_back"
    assert 0.85 < took < 5, took  # three intervals of 300 ms, then the rollback
    assert at_file_state(fresh.status()["shop"])


def test_few_connections_extend_then_pass(fresh, sandbox, client):
    # ~10 connects/s, half to v2: 300 ms intervals see 1-2 each, so the step
    # waits until --min-connections 4 have been counted, then passes.
    bg = client.start(SHOP_VIP, count=200, interval_ms=100, duration_s=6)
    try:
        time.sleep(0.2)
        code, ev, err = rollout(sandbox, "shop", "--to", "v2", "--steps", "50",
                                "--interval", "300ms", "--min-connections", "4",
                                "--extend", "15")
    finally:
        client.wait(bg)
    assert code == 0, (ev, err)
    n = names(ev)
    assert n[:2] == ["start", "step"] and n[-3:] == ["passed", "promote", "done"], n
    assert "extend" in n, n
    p = next(e for e in ev if e["event"] == "passed")
    assert p["connections"] >= 4 and p["failed"] == 0
    assert all(r["split"] == {"v1": 0.0, "v2": 100.0}
               for r in fresh.status()["shop"]["rules"])


def test_sigterm_rolls_back(fresh, sandbox):
    p = subprocess.Popen([STEERCTL, "--bpffs", sandbox.pin_dir, "-o", "json", "rollout",
                          "shop", "--to", "v2", "--steps", "10,100", "--interval", "20s"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sandbox.procs.append(p)
    try:
        first = [json.loads(p.stdout.readline()) for _ in range(2)]
        assert [e["event"] for e in first] == ["start", "step"]
        assert split_of(fresh.status()["shop"], "default") == {"v1": 90.0, "v2": 10.0}
        t0 = time.monotonic()
        os.kill(p.pid, signal.SIGTERM)
        out, err = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert time.monotonic() - t0 < 5
    assert p.returncode == 1, err
    ev = [json.loads(line) for line in out.splitlines()]
    assert names(ev) == ["interrupted", "rollback", "done"], names(ev)
    assert ev[0]["signal"] == "SIGTERM" and ev[0]["step"] == 1
    assert "interrupted by SIGTERM at step 1/2" in ev[-1]["message"]
    assert ev[-1]["result"] == "rolled_back"
    assert at_file_state(fresh.status()["shop"])


def test_change_by_another_steerctl_stops_it(fresh, sandbox):
    p = subprocess.Popen([STEERCTL, "--bpffs", sandbox.pin_dir, "-o", "json", "rollout",
                          "shop", "--to", "v2", "--steps", "10,100", "--interval", "20s"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sandbox.procs.append(p)
    try:
        first = [json.loads(p.stdout.readline()) for _ in range(2)]
        assert [e["event"] for e in first] == ["start", "step"]
        fresh.json("set", "shop", "v1=70", "v2=30")  # an operator steps in
        out, err = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 1, err
    ev = [json.loads(line) for line in out.splitlines()]
    assert names(ev) == ["changed", "done"], names(ev)
    assert ev[-1]["result"] == "stopped" and "was changed" in ev[-1]["message"]
    # the operator's change stands: the rollout published nothing more
    assert split_of(fresh.status()["shop"], "default") == {"v1": 70.0, "v2": 30.0}


def test_remainder_follows_file_split(fresh, sandbox):
    code, ev, err = rollout(sandbox, "trio", "--to", "c", "--steps", "20",
                            "--interval", "100ms", "--min-connections", "1",
                            "--max-failure-rate", "100%", "--extend", "0")
    # No traffic: 0 failures of --min-connections 1 is no breach, but too few.
    assert code == 1 and ev[-1]["result"] == "rolled_back", (ev, err)
    step = next(e for e in ev if e["event"] == "step")
    assert split_of(step, "all") == {"a": 60, "b": 20, "c": 20}


BAD = [
    ([], 2, "no ROUTE"),
    (["shop"], 2, "--to"),
    (["shop", "--to", "v2", "--steps", "10,5,100"], 2, "increase"),
    (["shop", "--to", "v2", "--steps", "10,10"], 2, "increase"),
    (["shop", "--to", "v2", "--steps", "0,50"], 2, "'0'"),
    (["shop", "--to", "v2", "--steps", "50,101"], 2, "'101'"),
    (["shop", "--to", "v2", "--steps", "1.234"], 2, "'1.234'"),
    (["shop", "--to", "v2", "--steps", "ten"], 2, "'ten'"),
    (["shop", "--to", "v2", "--steps", ""], 2, "no step"),
    (["shop", "--to", "v2", "--interval", "5x"], 2, "'5x'"),
    (["shop", "--to", "v2", "--interval", "10ms"], 2, "'10ms'"),
    (["shop", "--to", "v2", "--interval", "-1s"], 2, "'-1s'"),
    (["shop", "--to", "v2", "--max-failure-rate", "150%"], 2, "'150%'"),
    (["shop", "--to", "v2", "--max-failure-rate", "1e-2"], 2, "'1e-2'"),
    (["shop", "--to", "v2", "--min-connections", "0"], 2, "'0'"),
    (["shop", "--to", "v2", "--min-connections", "-3"], 2, "'-3'"),
    (["shop", "--to", "v2", "--extend", "x"], 2, "'x'"),
    (["shop", "--to", "v2", "--rule", "default", "--rule", "default"], 2, "twice"),
    (["shop", "--to", "v2", "--bogus"], 2, "--bogus"),
    (["shop", "extra", "--to", "v2"], 2, "'extra'"),
    (["nosuch", "--to", "v2"], 1, "nosuch"),
    (["shop", "--to", "v9"], 1, "v9"),
    (["shop", "--to", "v2", "--rule", "nosuch"], 1, "nosuch"),
    (["trio", "--to", "a", "--rule", "pinned"], 1, "nothing"),
]


@pytest.mark.parametrize("args,code,word", BAD, ids=[" ".join(a) or "none" for a, _, _ in BAD])
def test_bad_arguments_change_nothing(fresh, sandbox, args, code, word):
    fresh.json("set", "shop", "v1=80", "v2=20")  # a live override must survive too
    before = map_snapshot(sandbox.pin_dir)
    p = fresh.run("rollout", *args)
    assert p.returncode == code, (p.stdout, p.stderr)
    assert p.stdout == ""
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and word in lines[0], p.stderr
    pj = fresh.run("rollout", *args, json_out=True)
    assert pj.returncode == code
    out = pj.stdout.splitlines()
    assert len(out) == 1, pj.stdout  # one event per line, the error too
    doc = json.loads(out[0])
    assert doc["event"] == "error" and doc["status"] == code and word in doc["error"]
    assert map_snapshot(sandbox.pin_dir) == before


def test_help_has_examples(need_binaries):
    p = subprocess.run([STEERCTL, "help", "rollout"], text=True, stdout=subprocess.PIPE)
    assert p.returncode == 0 and p.stdout.startswith("Usage: steerctl rollout ROUTE")
    assert "EXAMPLES" in p.stdout and "--min-connections" in p.stdout
    p = subprocess.run([STEERCTL, "help"], text=True, stdout=subprocess.PIPE)
    assert "rollout" in p.stdout
