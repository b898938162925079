# SPDX-License-Identifier: BSD-2-Clause
"""Connected UDP sockets of a removed backend are closed with an error (docs/DESIGN.md
§2; Linux 6.5+: bpf_sock_destroy from steerd's UDP socket iterator, bpf/udp_destroy.bpf.c):
a connected socket held open in the sandbox, IPv4 or IPv6, gets ECONNABORTED on its next
send or recv within ~2 s of its backend's removal from the route file (or of its passive
ejection, within ~3 s), and a new socket reaches the backend left.  The iterator walks
the sockets of steerd's network namespace, so this steerd runs in the sandbox netns
(nsenter, no metrics listener).  The UDP servers are test_udp.py's fixture.  Skipped
where steerd logs that the kernel cannot (6.1)."""
import json
import os
import select
import subprocess
import time

import pytest

from sandbox import PYTHON, kill_pid
from steer import STEERD
from test_udp import udp_servers  # noqa: F401 (the module's UDP servers, autouse)

HERE = os.path.dirname(os.path.abspath(__file__))
VIP = "10.96.0.20:9080"
VIP6 = "[fd00:96::20]:9080"
NOT_CLOSED = "connected UDP sockets of removed or ejected backends are not closed"

pytestmark = pytest.mark.usefixtures("need_binaries")


def route(backends, vip=VIP):
    return (f"kind: Route\nname: dns\nfrontends: [\"{vip}/udp\"]\n"
            f"versions:\n  v1: {{backends: [{', '.join(backends)}]}}\n"
            "rules:\n  - name: default\n    split: {v1: 100}\n")


class Held:
    """udp_probe.py --hold --connected: one connected socket, a datagram a line."""

    def __init__(self, sb, vip=VIP, timeout_s=0.5):
        argv = [PYTHON, os.path.join(HERE, "udp_probe.py"), "--cgroup",
                sb.make_cgroup("clients"), "--hold", "--connected", "--timeout-s",
                str(timeout_s), vip]
        self.p = subprocess.Popen(sb.nsenter(argv), stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        sb.procs.append(self.p)

    def row(self):
        r, _, _ = select.select([self.p.stdout], [], [], 5)
        assert r, "udp_probe did not answer"
        return json.loads(self.p.stdout.readline())

    def again(self):
        self.p.stdin.write("\n")
        self.p.stdin.flush()
        return self.row()

    def close(self):
        kill_pid(self.p)


# A route's two backends per family, by the identity their UDP server answers with
# (tests/e2e/sandbox.py SERVERS; IPv6 has one a version, so the route takes both).
FAMILIES = {
    "ipv4": (VIP, {"v1-a": "10.244.1.5:9080", "v1-b": "10.244.1.6:9080"}),
    "ipv6": (VIP6, {"v1-6": "[fd00:244:1::5]:9080", "v2-6": "[fd00:244:2::7]:9080"}),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_removed_backend_socket_gets_econnaborted(steerd, sandbox, family):
    vip, backends = FAMILIES[family]
    steerd.binary = sandbox.nsenter([STEERD])
    steerd.metrics = "off"
    steerd.write_route("dns", route([f'"{a}"' for a in backends.values()], vip))
    steerd.start()
    if NOT_CLOSED in steerd.log_since(0):
        pytest.skip("this kernel has no bpf_sock_destroy (Linux 6.5+)")
    h = Held(sandbox, vip)
    try:
        first = h.row()
        assert first[1] in backends and first[4] is None, first
        other = next(i for i in backends if i != first[1])
        assert h.again()[1] == first[1]  # connected: the same backend
        t0 = time.monotonic()
        steerd.write_route("dns", route([f'"{backends[other]}"'], vip))
        err = None
        while time.monotonic() - t0 < 3:
            row = h.again()
            if row[4]:
                err = row[4]
                break
            assert row[1] == first[1], row  # never moved, only closed
            time.sleep(0.1)
        took = time.monotonic() - t0
        assert err == "ECONNABORTED", (err, steerd.log_since(0))
        assert took < 2.5, took
        assert steerd.wait_log(r"closed 1 connected UDP socket", timeout=1)
    finally:
        h.close()
    # a new socket reaches the backend left
    h = Held(sandbox, vip)
    try:
        row = h.row()
        assert row[4] is None and row[1] == other, row
    finally:
        h.close()


MANY = [f"10.244.1.5:{9100 + i}" for i in range(40)]  # one server, 40 ports


def test_socket_on_a_backend_past_the_32nd_is_kept(steerd, sandbox):
    """A version may hold 4,096 backends: a socket connected to its 40th is not
    closed by an apply that keeps that backend (the check looks at every backend
    of the version, not only the first 32)."""
    srv = subprocess.Popen(sandbox.nsenter(
        [PYTHON, os.path.join(HERE, "tc_peer.py"), "serve-udp"] +
        [f"{a}=b{i}" for i, a in enumerate(MANY)]),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    sandbox.procs.append(srv)
    held = []

    def many(backends):  # the last one takes (nearly) every new socket
        refs = [f'"{a}"' for a in backends[:-1]] + [f"{{address: {backends[-1]}, weight: 65535}}"]
        return route(refs)
    try:
        r, _, _ = select.select([srv.stdout], [], [], 10)
        assert r and srv.stdout.readline().strip() == "READY"
        steerd.binary = sandbox.nsenter([STEERD])
        steerd.metrics = "off"
        steerd.write_route("dns", many(MANY))
        steerd.start()
        if NOT_CLOSED in steerd.log_since(0):
            pytest.skip("this kernel has no bpf_sock_destroy (Linux 6.5+)")
        on_last = None
        for _ in range(8):
            h = Held(sandbox)
            held.append(h)
            if h.row()[1] == "b39":
                on_last = h
                break
            h.close()  # only the socket on the 40th backend stays open
        assert on_last, "no socket reached the 40th backend"
        since = steerd.log_offset()
        steerd.write_route("dns", many(MANY[1:]))  # b0 goes, b39 is now the 39th
        assert steerd.wait_log(r"applied 1 routes .*generation 2", since, timeout=5)
        for _ in range(3):
            row = on_last.again()
            assert row[4] is None and row[1] == "b39", (row, steerd.log_since(since))
        assert "closed" not in steerd.log_since(since)
    finally:
        for h in held:
            h.close()
        kill_pid(srv)


SINK = "10.244.1.5:9997"  # reads datagrams and never answers (below)
SINK_PY = ("import socket, sys\n"
           "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
           "s.bind(('10.244.1.5', 9997))\n"
           "print('READY', flush=True)\n"
           "while True:\n"
           "    s.recv(2048)\n"
           "    print('GOT', flush=True)\n")


def test_blocked_reader_gets_econnaborted(steerd, sandbox):
    """An application blocked in recv() on a connected socket whose backend is
    removed wakes with ECONNABORTED at once; it does not wait out its own timeout.
    (The socket is closed between its send and the reply it waits for: the race the
    other tests only hit now and then.)"""
    sink = subprocess.Popen(sandbox.nsenter([PYTHON, "-c", SINK_PY]),
                            stdout=subprocess.PIPE, text=True)
    sandbox.procs.append(sink)
    h = None
    try:
        r, _, _ = select.select([sink.stdout], [], [], 10)
        assert r and sink.stdout.readline().strip() == "READY"
        steerd.binary = sandbox.nsenter([STEERD])
        steerd.metrics = "off"
        steerd.write_route("dns", route([f'"{SINK}"']))
        steerd.start()
        if NOT_CLOSED in steerd.log_since(0):
            pytest.skip("this kernel has no bpf_sock_destroy (Linux 6.5+)")
        h = Held(sandbox, timeout_s=20)  # sends one datagram, waits for its answer
        r, _, _ = select.select([sink.stdout], [], [], 10)
        assert r and sink.stdout.readline().strip() == "GOT"
        t0 = time.monotonic()
        steerd.write_route("dns", route(['"10.244.1.6:9080"']))
        row = h.row()
        took = time.monotonic() - t0
        assert row[4] == "ECONNABORTED", (row, steerd.log_since(0))
        assert took < 2.5, took
    finally:
        if h:
            h.close()
        kill_pid(sink)


DOWN = "10.244.1.5:9999"  # answers UDP (below); TCP to it is refused: RST


def test_ejected_backend_socket_gets_econnaborted(steerd, sandbox, client):
    """A backend that passive health ejects (its TCP connects fail) loses its connected
    UDP sockets of the same route too, within about a second (steerd checks every
    second while a backend is ejected: no apply tells it)."""
    srv = subprocess.Popen(sandbox.nsenter(
        [PYTHON, os.path.join(HERE, "tc_peer.py"), "serve-udp", f"{DOWN}=down"]),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    sandbox.procs.append(srv)
    held = []
    try:
        r, _, _ = select.select([srv.stdout], [], [], 10)
        assert r and srv.stdout.readline().strip() == "READY"
        steerd.binary = sandbox.nsenter([STEERD])
        steerd.metrics = "off"
        steerd.write_route("dns", (
            "kind: Route\nname: dns\n"
            "frontends: [\"10.96.0.20:9080\", \"10.96.0.20:9080/udp\"]\n"
            f"versions:\n  v1: {{backends: [{DOWN}, 10.244.1.6:9080]}}\n"
            "rules:\n  - name: default\n    split: {v1: 100}\n"
            "health: {failures: 2, eject: 30s}\n"))
        steerd.start()
        if NOT_CLOSED in steerd.log_since(0):
            pytest.skip("this kernel has no bpf_sock_destroy (Linux 6.5+)")
        on_down = None
        for _ in range(8):  # connected sockets until one is on DOWN
            h = Held(sandbox)
            held.append(h)
            if h.row()[1] == "down":
                on_down = h
                break
        assert on_down, "no socket reached the backend to eject"
        assert on_down.again()[1] == "down"
        t0 = time.monotonic()
        r = client.run(VIP, count=10)  # TCP: two refused connects eject DOWN
        assert r["errors"] == {"ECONNREFUSED": 2}, r
        err = None
        while time.monotonic() - t0 < 4:
            row = on_down.again()
            if row[4]:
                err = row[4]
                break
            time.sleep(0.1)
        assert err == "ECONNABORTED", (err, steerd.log_since(0))
        assert time.monotonic() - t0 < 3
        # the sockets on the healthy backend stay
        for h in held:
            if h is not on_down:
                assert h.again()[1] == "v1-b"
    finally:
        for h in held:
            h.close()
        kill_pid(srv)
