# SPDX-License-Identifier: BSD-2-Clause
"""steer end to end: steerd attached to the sandbox cgroup, clients in the sandbox
netns dialling service VIPs, identities reported by the real backends."""
import json
import os
import re
import time

import pytest

from sandbox import V1, V2
from steer import STEERCTL, steerctl

VIP4 = "10.96.0.20:9080"
VIP6 = "[fd00:96::20]:9080"
VIP_OTHER = "10.96.0.30:9080"

pytestmark = pytest.mark.usefixtures("need_binaries")


def route(split=None, rules=None, name="reviews", frontends=(VIP4, VIP6), extra=""):
    """YAML for one route with the sandbox backends (docs/DESIGN.md §2)."""
    fe = ", ".join(f'"{f}"' for f in frontends)
    if rules is None:
        rules = f"  - name: default\n    split: {flow(split)}\n"
    return (f"kind: Route\n"
            f"name: {name}\n"
            f"frontends: [{fe}]\n"
            f"versions:\n"
            f'  v1: {{backends: [10.244.1.5:9080, 10.244.1.6:9080, "[fd00:244:1::5]:9080"]}}\n'
            f'  v2: {{backends: [10.244.2.7:9080, 10.244.2.8:9080, "[fd00:244:2::7]:9080"]}}\n'
            f"rules:\n{rules}{extra}")


def flow(split):
    return "{" + ", ".join(f"{k}: {v}" for k, v in split.items()) + "}"


def versions(r):
    """Connections per version from a client result."""
    v1 = sum(n for k, n in r["counts"].items() if k in V1)
    v2 = sum(n for k, n in r["counts"].items() if k in V2)
    return v1, v2


def assert_all(r, version_set, total):
    assert r["errors"] == {}, r
    assert sum(r["counts"].values()) == total, r
    assert set(r["counts"]) <= version_set, r


# -- splits -----------------------------------------------------------------------

def test_split_100_0(steerd, client):
    steerd.write_route("reviews", route({"v1": 100, "v2": 0}))
    steerd.start()
    r = client.run(VIP4, count=200)
    assert_all(r, {"v1-a", "v1-b"}, 200)
    assert versions(r) == (200, 0)


def test_split_80_20(steerd, client):
    steerd.write_route("reviews", route({"v1": 80, "v2": 20}))
    steerd.start()
    r = client.run(VIP4, count=500)
    assert_all(r, V1 | V2, 500)
    v1, v2 = versions(r)
    assert abs(v1 / 500 * 100 - 80) <= 5, r
    assert abs(v2 / 500 * 100 - 20) <= 5, r
    assert set(r["counts"]) <= {"v1-a", "v1-b", "v2-a", "v2-b"}  # v4 frontend: v4 backends


def test_split_0_100(steerd, client):
    steerd.write_route("reviews", route({"v1": 0, "v2": 100}))
    steerd.start()
    r = client.run(VIP4, count=200)
    assert_all(r, {"v2-a", "v2-b"}, 200)


# -- rules --------------------------------------------------------------------------

TESTERS = "  - name: testers\n    match: {match}\n    split: {{v2: 100}}\n" \
          "  - name: default\n    split: {{v1: 100}}\n"


def test_rule_source_cidr(steerd, client):
    steerd.write_route("reviews", route(rules=TESTERS.format(match="{sources: [10.244.9.0/24]}")))
    steerd.start()
    r = client.run(VIP4, count=50, bind="10.244.9.5")
    assert_all(r, {"v2-a", "v2-b"}, 50)
    assert r["sources"] == ["10.244.9.5"]
    r = client.run(VIP4, count=50, bind="10.244.8.5")
    assert_all(r, {"v1-a", "v1-b"}, 50)
    assert r["sources"] == ["10.244.8.5"]


def test_rule_cgroup(steerd, client, cg):
    steerd.write_route("reviews", route(rules=TESTERS.format(match=f"{{cgroups: [{cg('testers')}]}}")))
    steerd.start()
    r = client.run(VIP4, count=50, cgroup="testers")
    assert_all(r, {"v2-a", "v2-b"}, 50)
    r = client.run(VIP4, count=50, cgroup="testers/pod-1")  # subtree included
    assert_all(r, {"v2-a", "v2-b"}, 50)
    r = client.run(VIP4, count=50, cgroup="clients")
    assert_all(r, {"v1-a", "v1-b"}, 50)


def test_rule_uid(steerd, client):
    steerd.write_route("reviews", route(rules=TESTERS.format(match="{uids: [1001]}")))
    steerd.start()
    r = client.run(VIP4, count=50, uid=1001)
    assert r["uid"] == 1001
    assert_all(r, {"v2-a", "v2-b"}, 50)
    r = client.run(VIP4, count=50)
    assert r["uid"] == 0
    assert_all(r, {"v1-a", "v1-b"}, 50)


# -- policy, no route, untouched addresses ---------------------------------------------

def test_policy_deny_cgroup(steerd, client, cg):
    steerd.write_route("reviews", route(
        {"v1": 100}, extra=f"policy: {{default: allow, deny: [{{cgroups: [{cg('blocked')}]}}]}}\n"))
    steerd.start()
    r = client.run(VIP4, count=20, cgroup="blocked")
    assert r["counts"] == {} and r["errors"] == {"EPERM": 20}, r
    r = client.run(VIP4, count=20, cgroup="clients")
    assert_all(r, {"v1-a", "v1-b"}, 20)


def test_policy_default_deny_allow_list(steerd, client, cg):
    steerd.write_route("reviews", route(
        {"v1": 100}, extra=f"policy: {{default: deny, allow: [{{cgroups: [{cg('allowed')}]}}]}}\n"))
    steerd.start()
    r = client.run(VIP4, count=20, cgroup="allowed")
    assert_all(r, {"v1-a", "v1-b"}, 20)
    r = client.run(VIP4, count=20, cgroup="clients")
    assert r["counts"] == {} and r["errors"] == {"EPERM": 20}, r


def test_no_matching_rule_refused(steerd, client):
    steerd.write_route("reviews", route({"v1": 100}))
    steerd.write_route("nobody", route(
        name="nobody", frontends=(VIP_OTHER,),
        rules="  - name: only\n    match: {uids: [4242]}\n    split: {v1: 100}\n"))
    steerd.start()
    r = client.run(VIP_OTHER, count=20)
    assert r["counts"] == {} and r["errors"] == {"ECONNREFUSED": 20}, r
    r = client.run(VIP4, count=5)  # the other route still works
    assert_all(r, {"v1-a", "v1-b"}, 5)


def test_no_backend_of_the_family_refused(steerd, client):
    """An IPv4 frontend whose versions have only IPv6 backends has no usable backend:
    connect() fails at once with ECONNREFUSED, and it is counted as no_route."""
    steerd.write_route("v6only", "kind: Route\n"
                       "name: v6only\n"
                       f'frontends: ["{VIP_OTHER}"]\n'
                       "versions:\n"
                       '  v1: {backends: ["[fd00:244:1::5]:9080"]}\n'
                       "rules:\n"
                       "  - name: default\n"
                       "    split: {v1: 100}\n")
    steerd.start()
    r = client.run(VIP_OTHER, count=20)
    assert r["counts"] == {} and r["errors"] == {"ECONNREFUSED": 20}, r
    p = steerctl("--bpffs", steerd.sb.pin_dir, "-o", "json", "status", "v6only")
    assert json.loads(p.stdout)["routes"][0]["refused"]["no_route"] == 20, p.stdout


def test_non_frontend_untouched(steerd, client):
    steerd.write_route("reviews", route({"v2": 100, "v1": 0}))
    steerd.start()
    r = client.run("10.244.1.5:9080", count=50)
    assert r["counts"] == {"v1-a": 50} and r["errors"] == {}, r
    assert r["peernames"] == ["10.244.1.5:9080"]


# -- IPv6 and getpeername ----------------------------------------------------------

def test_ipv6_frontend_and_peername(steerd, client):
    steerd.write_route("reviews", route({"v1": 50, "v2": 50}))
    steerd.start()
    r = client.run(VIP6, count=100)
    assert_all(r, {"v1-6", "v2-6"}, 100)
    assert set(r["counts"]) == {"v1-6", "v2-6"}, r  # P(one side empty) ~ 2^-99
    assert r["peernames"] == ["[fd00:96::20]:9080"], r
    r = client.run(VIP4, count=100)
    assert_all(r, {"v1-a", "v1-b", "v2-a", "v2-b"}, 100)
    assert r["peernames"] == ["10.96.0.20:9080"], r


# -- live changes --------------------------------------------------------------------

def test_live_change_within_1s(steerd, client):
    steerd.write_route("reviews", route({"v1": 100, "v2": 0}))
    steerd.start()
    p = client.start(VIP4, count=600, interval_ms=5, duration_s=10, seq=True)
    time.sleep(0.5)
    t_write = time.time()
    steerd.write_route("reviews", route({"v1": 0, "v2": 100}))
    r = client.wait(p)
    assert r["errors"] == {}, r
    seq = r["seq"]
    before = [i for t, i in seq if t < t_write]
    after = [i for t, i in seq if t > t_write + 1.0]
    assert before and set(before) <= V1, before
    assert len(after) >= 20, f"too few connections after the change: {len(after)}"
    assert set(after) <= {"v2-a", "v2-b"}, after
    switched = [t for t, i in seq if t > t_write and i in V2]
    assert switched, "never switched"


def test_broken_file_keeps_previous(steerd, client):
    path = steerd.write_route("routes", route({"v1": 100, "v2": 0}))
    steerd.start()
    off = steerd.log_offset()
    steerd.write_route("routes", route({"v1": 0, "v2": 90}))  # sums to 90
    m = steerd.wait_log(r"routes\.yaml:\d+:\d+", off, timeout=5)
    assert m, "no file:line:col error in steerd's log:\n" + steerd.log_since(off)
    line = next(ln for ln in steerd.log_since(off).splitlines() if m.group(0) in ln)
    assert re.search(r"error|warn", line, re.I), line
    assert os.path.basename(path) in line
    r = client.run(VIP4, count=100)
    assert_all(r, {"v1-a", "v1-b"}, 100)


def test_sighup_reload(steerd, client):
    steerd.write_route("reviews", route({"v1": 100, "v2": 0}))
    steerd.start()
    steerd.write_route("reviews", route({"v1": 0, "v2": 100}))
    steerd.reload()
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        r = client.run(VIP4, count=10)
        if versions(r) == (0, 10):
            break
    assert_all(client.run(VIP4, count=50), {"v2-a", "v2-b"}, 50)


def test_kill9_restart_no_failed_connection(steerd, client):
    steerd.write_route("reviews", route({"v1": 80, "v2": 20}))
    steerd.start()
    p = client.start(VIP4, count=1500, interval_ms=2, duration_s=30)
    time.sleep(0.5)
    steerd.kill9()
    time.sleep(0.3)  # datapath must run without steerd
    steerd.start()
    r = client.wait(p)
    assert r["errors"] == {}, r
    assert_all(r, {"v1-a", "v1-b", "v2-a", "v2-b"}, r["total"])
    assert r["total"] >= 500, r
    r = client.run(VIP4, count=500)
    assert_all(r, V1 | V2, 500)
    v1, _ = versions(r)
    assert abs(v1 / 5 - 80) <= 5, r


def test_flapping_split_never_fails(steerd, client):
    steerd.write_route("reviews", route({"v1": 90, "v2": 10}))
    steerd.start()
    p = client.start(VIP4, count=1500, interval_ms=1, duration_s=20)
    p6 = client.start(VIP6, count=500, interval_ms=3, duration_s=20)
    for i in range(20):
        split = {"v1": 10, "v2": 90} if i % 2 == 0 else {"v1": 90, "v2": 10}
        steerd.write_route("reviews", route(split))
        time.sleep(0.1)
    r = client.wait(p)
    r6 = client.wait(p6)
    assert r["errors"] == {} and r6["errors"] == {}, (r, r6)
    assert_all(r, {"v1-a", "v1-b", "v2-a", "v2-b"}, r["total"])
    assert_all(r6, {"v1-6", "v2-6"}, r6["total"])
    assert steerd.proc.poll() is None, "steerd died:\n" + steerd.log_since()


# -- affinity -------------------------------------------------------------------------

def _affinity_run(client):
    r = client.run(VIP4, count=3, cgroup="aff", cgroups_many=40)
    assert r["errors"] == {}, r
    return r["per_cgroup"]


def test_affinity_client(steerd, client):
    steerd.write_route("reviews", route({"v1": 90, "v2": 10}, extra="affinity: client\n"))
    steerd.start()
    first = _affinity_run(client)
    for c, ids in first.items():
        assert len(set(ids)) == 1, (c, ids)
    on_v2 = {c for c, ids in first.items() if ids[0] in V2}

    steerd.write_route("reviews", route({"v1": 50, "v2": 50}, extra="affinity: client\n"))
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:  # wait until the new split shows
        now = _affinity_run(client)
        if sum(ids[0] in V2 for ids in now.values() if len(set(ids)) == 1) > len(on_v2):
            break
    second = _affinity_run(client)
    for c, ids in second.items():
        assert len(set(ids)) == 1, (c, ids)
    for c in on_v2:
        assert second[c] == first[c], f"{c} moved off v2: {first[c]} -> {second[c]}"
    now_v2 = {c for c, ids in second.items() if ids[0] in V2}
    assert len(now_v2) > len(on_v2), (len(on_v2), len(now_v2))


# -- steerctl -------------------------------------------------------------------------

def test_steerctl_status_json(steerd, sandbox):
    steerd.write_route("reviews", route({"v1": 80, "v2": 20}))
    steerd.start()
    p = steerctl("--bpffs", sandbox.pin_dir, "-o", "json", "status")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert "reviews" in json.dumps(doc), doc


def test_steerctl_validate_bad_file(sandbox, need_binaries):
    bad = os.path.join(sandbox.tmp, "bad.yaml")
    text = route({"v1": 50, "v2": 40})
    with open(bad, "w") as f:
        f.write(text)
    p = steerctl("validate", bad)
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    out = p.stdout + p.stderr
    m = re.search(r"bad\.yaml:(\d+):(\d+): \S", out)
    assert m, out
    assert 1 <= int(m.group(1)) <= text.count("\n") + 1, out
    good = os.path.join(sandbox.tmp, "good.yaml")
    with open(good, "w") as f:
        f.write(route({"v1": 60, "v2": 40}))
    p = steerctl("validate", good)
    assert p.returncode == 0, (p.stdout, p.stderr)
