# SPDX-License-Identifier: BSD-2-Clause
"""Unconnected UDP at the socket layer (docs/DESIGN.md §3): sendto() to a UDP frontend is
steered at sendmsg once per socket and frontend, every later datagram of that socket
to that frontend reaches the same backend, and recvfrom() shows the frontend as the
source of the answer (a per-datagram draw would break UDP sessions; Cilium #7925).  Real
sockets in the sandbox netns and test cgroup (tests/e2e/udp_probe.py) against UDP
identity servers (tc_peer.py serve-udp) on the sandbox backends' addresses."""
import json
import os
import signal
import subprocess
import select

import pytest

from sandbox import PYTHON, SERVERS, V1, V2, kill_pid, version_of
from steer import STEERCTL, bpftool

HERE = os.path.dirname(os.path.abspath(__file__))
VIP4 = "10.96.0.20:9080"
VIP4B = "10.96.0.21:9080"  # a second frontend of the same route
VIP6 = "[fd00:96::20]:9080"
VIP_OTHER = "10.96.0.30:9080"
MAPPED = "[::ffff:10.96.0.20]:9080"
V4_IDENTS = {"v1-a", "v1-b", "v2-a", "v2-b"}
V6_IDENTS = {"v1-6", "v2-6"}
REASON_NOT_FRONTEND = 1  # enum steer_reason

pytestmark = pytest.mark.usefixtures("need_binaries")


@pytest.fixture(scope="module", autouse=True)
def udp_servers(sandbox):
    """UDP identity servers on every sandbox backend address (port 9080, like TCP)."""
    log = open(os.path.join(sandbox.tmp, "udp_server.log"), "w")
    p = subprocess.Popen(sandbox.nsenter(
        [PYTHON, os.path.join(HERE, "tc_peer.py"), "serve-udp"]
        + [f"{addr}={ident}" for ident, addr in SERVERS.items()]),
        stdout=subprocess.PIPE, stderr=log, text=True)
    log.close()
    sandbox.procs.append(p)
    try:
        r, _, _ = select.select([p.stdout], [], [], 10)
        assert r and p.stdout.readline().strip() == "READY", "UDP servers not ready"
        yield p
    finally:
        kill_pid(p)


def udp_route(split=None, rules=None, name="reviews", frontends=(VIP4, VIP4B, VIP6),
              extra=""):
    fe = ", ".join(f'"{f}/udp"' for f in frontends)
    if rules is None:
        rules = ("  - name: default\n    split: {"
                 + ", ".join(f"{k}: {v}" for k, v in split.items()) + "}\n")
    return (f"kind: Route\n"
            f"name: {name}\n"
            f"frontends: [{fe}]\n"
            f"versions:\n"
            f'  v1: {{backends: [10.244.1.5:9080, 10.244.1.6:9080, "[fd00:244:1::5]:9080"]}}\n'
            f'  v2: {{backends: [10.244.2.7:9080, 10.244.2.8:9080, "[fd00:244:2::7]:9080"]}}\n'
            f"rules:\n{rules}{extra}")


def probe(sb, *targets, sockets=1, count=1, cgroup="clients", connected=False,
          v6_socket=False, uid=None, sendto=False):
    argv = [PYTHON, os.path.join(HERE, "udp_probe.py"), "--cgroup", sb.make_cgroup(cgroup),
            "--sockets", str(sockets), "--count", str(count)]
    if connected:
        argv.append("--connected")
    if v6_socket:
        argv.append("--v6-socket")
    if sendto:
        argv.append("--sendto")
    if uid is not None:
        argv += ["--uid", str(uid)]
    p = subprocess.run(sb.nsenter(argv + list(targets)), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)["sockets"]


def answered(sockets, frontend, idents):
    """Every datagram answered by one of @idents, seen as coming from @frontend, and
    each socket's datagrams by one backend.  Returns the identity of each socket."""
    per_socket = []
    for rows in sockets:
        assert rows and all(r[4] is None for r in rows), rows
        assert {r[3] for r in rows} == {frontend}, rows  # recvfrom(): the frontend
        ids = {r[1] for r in rows}
        assert len(ids) == 1 and ids <= idents, rows     # sticks: one backend
        assert len({r[2] for r in rows}) == 1, rows
        per_socket.append(ids.pop())
    return per_socket


def route_status(sb, name="reviews"):
    p = subprocess.run([STEERCTL, "--bpffs", sb.pin_dir, "-o", "json", "stats", name],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)["routes"][0]


def reason_count(sb, reason):
    """Sum over CPUs of steer_reasons_v2[reason]."""
    doc = json.loads(bpftool("-j", "map", "lookup", "pinned",
                             os.path.join(sb.pin_dir, "maps", "steer_reasons_v2"),
                             "key", *(str(b) for b in reason.to_bytes(4, "little"))))
    return sum(int.from_bytes(bytes(int(x, 16) for x in v["value"]), "little")
               for v in doc["values"])


def test_sendto_v4_and_v6_frontends(steerd, sandbox):
    steerd.write_route("reviews", udp_route({"v1": 50, "v2": 50}))
    steerd.start()
    ids = answered(probe(sandbox, VIP4, sockets=20, count=5), VIP4, V4_IDENTS)
    assert {version_of(i) for i in ids} == {"v1", "v2"}, ids  # P(not) ~ 2^-19
    ids = answered(probe(sandbox, VIP6, sockets=20, count=5), VIP6, V6_IDENTS)
    assert set(ids) == V6_IDENTS, ids
    # one connection per (socket, frontend), not per datagram
    assert route_status(sandbox)["connections"] == 40


def test_split_80_20_over_300_sockets(steerd, sandbox):
    steerd.write_route("reviews", udp_route({"v1": 80, "v2": 20}))
    steerd.start()
    ids = answered(probe(sandbox, VIP4, sockets=300, count=2), VIP4, V4_IDENTS)
    v1 = sum(i in V1 for i in ids)
    v2 = sum(i in V2 for i in ids)
    assert v1 + v2 == 300
    assert abs(v1 / 3 - 80) <= 5 and abs(v2 / 3 - 20) <= 5, (v1, v2)
    st = route_status(sandbox)
    assert st["connections"] == 300, st
    got = {v["name"]: v["connections"] for v in st["versions"]}
    assert got == {"v1": v1, "v2": v2}, (got, v1, v2)


def test_sticks_per_socket_and_frontend(steerd, sandbox):
    """One socket, two frontends of a route, datagrams interleaved: each frontend keeps
    the backend its first datagram chose, and each answer shows its own frontend."""
    steerd.write_route("reviews", udp_route({"v1": 50, "v2": 50}))
    steerd.start()
    sockets = probe(sandbox, VIP4, VIP4B, sockets=30, count=6)
    differ = 0
    for rows in sockets:
        a = answered([[r for r in rows if r[0] == 0]], VIP4, V4_IDENTS)[0]
        b = answered([[r for r in rows if r[0] == 1]], VIP4B, V4_IDENTS)[0]
        differ += a != b
    assert differ, "the two frontends of a socket were never decided apart"
    assert route_status(sandbox)["connections"] == 60


def test_v4_mapped_from_dual_stack_socket(steerd, sandbox):
    steerd.write_route("reviews", udp_route({"v1": 0, "v2": 100}))
    steerd.start()
    answered(probe(sandbox, VIP4, sockets=10, count=3, v6_socket=True), MAPPED,
             {"v2-a", "v2-b"})


def test_denied_sendto_eperm(steerd, sandbox, cg):
    steerd.write_route("reviews", udp_route(
        {"v1": 100}, extra=f"policy: {{default: allow, deny: [{{cgroups: [{cg('blocked')}]}}]}}\n"))
    steerd.start()
    for target in (VIP4, VIP6):
        rows = probe(sandbox, target, sockets=5, count=2, cgroup="blocked")
        assert all(r[4] == "EPERM" for s in rows for r in s) and len(rows) == 5, rows
    answered(probe(sandbox, VIP4, sockets=5, count=2), VIP4, {"v1-a", "v1-b"})
    st = route_status(sandbox)
    assert st["denied"]["sock"] == 20 and st["connections"] == 5, st


def test_no_rule_sendto_econnrefused(steerd, sandbox):
    steerd.write_route("reviews", udp_route({"v1": 100}))
    steerd.write_route("nobody", udp_route(
        name="nobody", frontends=(VIP_OTHER,),
        rules="  - name: only\n    match: {uids: [4242]}\n    split: {v1: 100}\n"))
    steerd.start()
    rows = probe(sandbox, VIP_OTHER, sockets=4, count=3)
    assert all(r[4] == "ECONNREFUSED" for s in rows for r in s), rows
    assert route_status(sandbox, "nobody")["no_route"]["sock"] == 12
    answered(probe(sandbox, VIP4, sockets=2, count=2), VIP4, {"v1-a", "v1-b"})


def test_non_frontend_untouched(steerd, sandbox):
    steerd.write_route("reviews", udp_route({"v2": 100, "v1": 0}))
    steerd.start()
    before = reason_count(sandbox, REASON_NOT_FRONTEND)
    answered(probe(sandbox, "10.244.1.5:9080", sockets=3, count=4), "10.244.1.5:9080",
             {"v1-a"})
    answered(probe(sandbox, "[fd00:244:1::5]:9080", sockets=3, count=4),
             "[fd00:244:1::5]:9080", {"v1-6"})
    # the hook ran for every datagram (each had an address) and left it alone
    assert reason_count(sandbox, REASON_NOT_FRONTEND) - before == 24
    assert route_status(sandbox)["connections"] == 0


def test_connected_udp(steerd, sandbox):
    """connect() steers a UDP socket (connect4/6); its send()s carry no address, so the
    sendmsg hook never runs for them; recvfrom() shows the frontend, not the backend."""
    steerd.write_route("reviews", udp_route({"v1": 50, "v2": 50}))
    steerd.start()
    before = reason_count(sandbox, REASON_NOT_FRONTEND)
    answered(probe(sandbox, VIP4, sockets=10, count=5, connected=True), VIP4, V4_IDENTS)
    answered(probe(sandbox, VIP6, sockets=10, count=5, connected=True), VIP6, V6_IDENTS)
    assert reason_count(sandbox, REASON_NOT_FRONTEND) == before
    # A dual-stack socket connected to ::ffff:VIP is the exception: the kernel hands
    # each send() to udp_sendmsg() with the peer, the backend, as an IPv4 address,
    # so sendmsg4 runs for each datagram and leaves it alone (not a frontend).
    answered(probe(sandbox, VIP4, sockets=5, count=3, connected=True, v6_socket=True),
             MAPPED, V4_IDENTS)
    assert reason_count(sandbox, REASON_NOT_FRONTEND) - before == 5 * 3
    assert route_status(sandbox)["connections"] == 25
    # A connected socket that names its frontend in sendto() keeps its connected
    # backend (one connection, counted at connect), v4, v6 and v4-mapped.
    for target, frm, idents, v6s in ((VIP4, VIP4, V4_IDENTS, False),
                                     (VIP6, VIP6, V6_IDENTS, False),
                                     (VIP4, MAPPED, V4_IDENTS, True)):
        answered(probe(sandbox, target, sockets=10, count=4, connected=True,
                       sendto=True, v6_socket=v6s), frm, idents)
    assert route_status(sandbox)["connections"] == 25 + 30


def test_route_change_keeps_socket_backend(steerd, sandbox):
    """A split change moves no (socket, frontend) already decided: a socket that keeps
    sending after v1 -> v2 stays on its v1 backend, across a steerd kill -9 and
    restart too; new sockets go to v2."""
    steerd.write_route("reviews", udp_route({"v1": 100, "v2": 0}))
    steerd.start()
    argv = [PYTHON, os.path.join(HERE, "udp_probe.py"), "--cgroup",
            sandbox.make_cgroup("clients"), "--count", "1", "--hold", VIP4]
    p = subprocess.Popen(sandbox.nsenter(argv), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sandbox.procs.append(p)
    try:
        first = json.loads(p.stdout.readline())
        assert first[1] in {"v1-a", "v1-b"} and first[3] == VIP4, first
        steerd.write_route("reviews", udp_route({"v1": 0, "v2": 100}))
        deadline_rows = probe(sandbox, VIP4, sockets=1, count=1)
        for _ in range(40):  # the new split shows within the contract's 1 s
            if deadline_rows[0][0][1] in {"v2-a", "v2-b"}:
                break
            deadline_rows = probe(sandbox, VIP4, sockets=1, count=1)
        assert deadline_rows[0][0][1] in {"v2-a", "v2-b"}, deadline_rows
        for _ in range(5):
            p.stdin.write("\n")
            p.stdin.flush()
            row = json.loads(p.stdout.readline())
            assert row[1:4] == first[1:4], (first, row)
        # a steerd kill -9 and restart keeps it too (the socket table is a pinned map)
        steerd.kill9()
        steerd.start()
        for _ in range(3):
            p.stdin.write("\n")
            p.stdin.flush()
            row = json.loads(p.stdout.readline())
            assert row[1:4] == first[1:4], (first, row)
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        p.communicate(timeout=10)


def test_trace_one_event_per_socket_and_frontend(steerd, sandbox):
    """steerctl trace shows each decision once, not each datagram; denials each time."""
    steerd.write_route("reviews", udp_route(
        {"v1": 100}, extra="policy: {default: allow, deny: [{uids: [4242]}]}\n"))
    steerd.start()
    p = subprocess.Popen([STEERCTL, "--bpffs", sandbox.pin_dir, "-o", "json", "trace",
                          "reviews"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    sandbox.procs.append(p)
    try:
        line = p.stderr.readline()  # printed once the lease is set
        assert line.startswith("steerctl: tracing"), line
        answered(probe(sandbox, VIP4, sockets=3, count=4), VIP4, {"v1-a", "v1-b"})
        answered(probe(sandbox, VIP6, sockets=2, count=4), VIP6, {"v1-6"})
        rows = probe(sandbox, VIP4, sockets=1, count=2, uid=4242)
        assert [r[4] for r in rows[0]] == ["EPERM", "EPERM"], rows
    finally:
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    ev = [json.loads(x) for x in out.splitlines()]
    assert len(ev) == 3 + 2 + 2, out
    assert all(e["proto"] == "udp" and e["layer"] == "sock" for e in ev), ev
    steered = [e for e in ev if e["verdict"] == "steered"]
    assert sorted(e["frontend"] for e in steered) == [VIP4] * 3 + [VIP6] * 2, ev
    denied = [e for e in ev if e["verdict"] == "denied"]
    assert len(denied) == 2 and all(e["client"]["uid"] == 4242 for e in denied), ev
