# SPDX-License-Identifier: BSD-2-Clause
"""Self-test of the e2e harness: no steerd involved."""
import os
import subprocess
import sys

import pytest

from sandbox import HERE, PYTHON, SERVERS, Sandbox


def test_servers_reachable_directly(client):
    for ident, addr in SERVERS.items():
        r = client.run(addr, count=3)
        assert r["counts"] == {ident: 3}, r
        assert r["errors"] == {}
        assert r["peernames"] == [addr]
        assert r["backends"] == {addr: 3}, r


def test_client_joins_cgroup_and_drops_uid(sandbox, client):
    r = client.run("10.244.1.5:9080", count=1, cgroup="testers/sub", uid=1001)
    assert r["cgroup"] == sandbox.cgroup_rel("testers/sub")
    assert r["uid"] == 1001
    assert r["counts"] == {"v1-a": 1}


def test_client_bind_source(client):
    r = client.run("10.244.2.7:9080", count=2, bind="10.244.9.5")
    assert r["counts"] == {"v2-a": 2}
    assert r["sources"] == ["10.244.9.5"]


@pytest.mark.parametrize("vip", ["10.96.0.20:9080", "[fd00:96::20]:9080", "10.96.0.30:9080"])
def test_vip_unreachable_without_steerd(client, vip):
    r = client.run(vip, count=2)
    assert r["counts"] == {}
    assert set(r["errors"]) <= {"ENETUNREACH", "EHOSTUNREACH"}, r
    assert sum(r["errors"].values()) == 2


def test_cgroups_many(sandbox, client):
    r = client.run("10.244.1.6:9080", count=2, cgroup="many", cgroups_many=3)
    assert r["per_cgroup"] == {f"c{i}": ["v1-b", "v1-b"] for i in range(3)}
    for i in range(3):
        assert os.path.isdir(os.path.join(sandbox.cgroup, "many", f"c{i}"))


def _gone(sb_name, cgroup, pin_dir):
    ns = subprocess.run(["ip", "netns", "list"], stdout=subprocess.PIPE, text=True).stdout
    assert sb_name not in ns
    assert not os.path.exists(f"/run/netns/{sb_name}")
    assert not os.path.exists(cgroup)
    assert not os.path.exists(pin_dir)


def test_sandbox_cleanup_leaves_nothing(client):
    sb = Sandbox().open()
    try:
        sb.start_servers({"x": "10.244.1.5:9081"})
        os.makedirs(sb.pin_dir)  # as steerd would
        os.makedirs(os.path.join(sb.pin_dir, "sub"))  # bpffs holds only dirs and pins
        from steer import Client
        r = Client(sb).run("10.244.1.5:9081", count=1, cgroup="a/b/c")
        assert r["counts"] == {"x": 1}
        server = sb.server
    finally:
        sb.close()
    assert server.poll() is not None
    _gone(sb.name, sb.cgroup, sb.pin_dir)


@pytest.mark.parametrize("how", ["exception", "sigterm"])
def test_sandbox_cleanup_on_crash(how):
    """A process that dies by an uncaught exception or SIGTERM still cleans up (atexit)."""
    code = f"""
import os, signal, sys, time
sys.path.insert(0, {HERE!r})
import conftest  # installs the SIGTERM handler
from sandbox import Sandbox
sb = Sandbox().open()
sb.start_servers({{"x": "10.244.1.5:9082"}})
print(sb.name, sb.cgroup, sb.pin_dir, flush=True)
if {how!r} == "exception":
    raise RuntimeError("boom")
time.sleep(30)
"""
    p = subprocess.Popen([PYTHON, "-c", code], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline().split()
        assert len(line) == 3, p.stderr.read() if p.poll() is not None else line
        if how == "sigterm":
            # (the "exception" child may already be cleaning up: no check there)
            assert os.path.exists(f"/run/netns/{line[0]}")
            p.terminate()
        p.wait(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode != 0
    _gone(*line)


def test_orphan_is_seen_and_stopped(sandbox):
    """The no-process-left-behind check (procs.py) sees a process whose parent
    died: it is reparented to this test run, not to init."""
    import procs
    before = set(procs.live_children())
    p = subprocess.run(["sh", "-c", "sleep 30 >/dev/null 2>&1 & echo $!"],
                       capture_output=True, text=True, check=True)
    orphan = int(p.stdout)
    try:
        assert orphan in set(procs.live_children()) - before
        assert procs.cmdline(orphan) == "sleep 30"
    finally:
        procs.kill_and_reap([orphan])
    assert orphan not in procs.live_children()
