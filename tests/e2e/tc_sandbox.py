# SPDX-License-Identifier: BSD-2-Clause
"""Three network namespaces for the TC-layer e2e tests (docs/DESIGN.md §8):

  client ns  c0 ====== rc0  router ns  rb0 ====== b0  backend ns
  10.244.8.5/24          10.244.8.1/24  10.244.1.1/24   10.244.1.5,.6 (v1)
  10.244.9.5/24 (tester) 10.244.9.1/24  10.244.2.1/24   10.244.2.7,.8 (v2)
  10.244.66.5/24 (denied)10.244.66.1/24  10.244.3.1/24   10.244.3.3 (v3)
  fd00:8::5/64           fd00:8::1/64   fd00:244:1::1   fd00:244:1::5 (v1)
                                        fd00:244:2::1   fd00:244:2::7 (v2)

The client's default route points at the router, which forwards; the router has no
default route and an "unreachable" route for the frontend ranges, so a packet steer did
not translate dies there and never leaves.  steerd runs in the router namespace with
--tc-iface 'rc*,rb*' (both the client- and the backend-facing side) and --cgroup
set to the sandbox's own cgroup, in which no client ever runs: every connection here is
steered at TC.  Backends: tests/e2e/echo_server.py (TCP identity), tc_peer.py serve-udp
and serve-echo.  Names are steer-e2e-<suffix>-{c,r,b}; everything goes on close(),
which the base Sandbox registers with atexit.
"""
import os
import select
import subprocess

from sandbox import FIXTURES, PYTHON, Sandbox, run

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, "tc_peer.py")

CLIENT_V4 = {"plain": "10.244.8.5", "tester": "10.244.9.5", "denied": "10.244.66.5"}
CLIENT_V6 = "fd00:8::5"
TCP_SERVERS = {
    "v1-a": "10.244.1.5:9080", "v1-b": "10.244.1.6:9080",
    "v2-a": "10.244.2.7:9080", "v2-b": "10.244.2.8:9080",
    "v1-6": "[fd00:244:1::5]:9080", "v2-6": "[fd00:244:2::7]:9080",
    "v3-a": "10.244.3.3:9080",
}
UDP_SERVERS = {"v1-a": "10.244.1.5:9053", "v1-b": "10.244.1.6:9053",
               "v2-a": "10.244.2.7:9053", "v2-b": "10.244.2.8:9053"}
ECHO_SERVERS = {"v1-a": "10.244.1.5:9090", "v1-b": "10.244.1.6:9090",
                "v2-a": "10.244.2.7:9090", "v2-b": "10.244.2.8:9090"}


class TcSandbox(Sandbox):
    """A Sandbox (cgroup, pin dir, temp dir, cleanup) with three namespaces."""

    def __init__(self, suffix=None):
        super().__init__(suffix)
        self.ns = {k: f"{self.name}-{k}" for k in ("c", "r", "b")}
        self.netns = self.ns["r"]  # steerd's namespace
        self.netns_path = f"/run/netns/{self.netns}"

    def netns_paths(self):
        return [self.ns_path(k) for k in self.ns]

    def ns_path(self, k):
        return f"/run/netns/{self.ns[k]}"

    def in_ns(self, k, argv):
        return ["nsenter", f"--net={self.ns_path(k)}"] + list(argv)

    def _netns(self):
        for k, ns in self.ns.items():
            run(["ip", "netns", "add", ns])
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
            # no duplicate address detection: every address is usable at once
            for key in ("net.ipv6.conf.all.accept_dad=0",
                        "net.ipv6.conf.default.accept_dad=0"):
                run(self.in_ns(k, ["sysctl", "-qw", key]))
        for key in ("net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1",
                    "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0"):
            run(self.in_ns("r", ["sysctl", "-qw", key]))
        c, r, b = (["ip", "-n", self.ns[k]] for k in "crb")
        run(c + ["link", "add", "c0", "type", "veth", "peer", "name", "rc0", "netns",
                 self.ns["r"]])
        run(b + ["link", "add", "b0", "type", "veth", "peer", "name", "rb0", "netns",
                 self.ns["r"]])
        for cmd, dev, addrs in (
                (c, "c0", ["10.244.8.5/24", "10.244.9.5/24", "10.244.66.5/24"]),
                (r, "rc0", ["10.244.8.1/24", "10.244.9.1/24", "10.244.66.1/24"]),
                (r, "rb0", ["10.244.1.1/24", "10.244.2.1/24", "10.244.3.1/24"]),
                (b, "b0", ["10.244.1.5/24", "10.244.1.6/24", "10.244.2.7/24",
                           "10.244.2.8/24", "10.244.3.3/24"])):
            for a in addrs:
                run(cmd + ["addr", "add", a, "dev", dev])
        for cmd, dev, addrs in ((c, "c0", ["fd00:8::5/64"]), (r, "rc0", ["fd00:8::1/64"]),
                                (r, "rb0", ["fd00:244:1::1/64", "fd00:244:2::1/64"]),
                                (b, "b0", ["fd00:244:1::5/64", "fd00:244:2::7/64"])):
            for a in addrs:
                run(cmd + ["-6", "addr", "add", a, "dev", dev, "nodad"])
        for cmd, dev in ((c, "c0"), (r, "rc0"), (r, "rb0"), (b, "b0")):
            run(cmd + ["link", "set", dev, "up"])
        run(c + ["route", "add", "default", "via", "10.244.8.1"])
        run(c + ["-6", "route", "add", "default", "via", "fd00:8::1"])
        run(b + ["route", "add", "default", "via", "10.244.1.1"])
        run(b + ["-6", "route", "add", "default", "via", "fd00:244:1::1"])
        run(r + ["route", "add", "unreachable", "10.96.0.0/16"])
        run(r + ["-6", "route", "add", "unreachable", "fd00:96::/64"])

    def start_servers(self, timeout=10.0):
        specs = [
            [PYTHON, os.path.join(FIXTURES, "echo_server.py")]
            + [f"{a}={i}" for i, a in TCP_SERVERS.items()],
            [PYTHON, PEER, "serve-udp"] + [f"{a}={i}" for i, a in UDP_SERVERS.items()],
            [PYTHON, PEER, "serve-echo"] + [f"{a}={i}" for i, a in ECHO_SERVERS.items()],
        ]
        for n, argv in enumerate(specs):
            log = open(os.path.join(self.tmp, f"server{n}.log"), "w")
            p = subprocess.Popen(self.in_ns("b", argv), stdout=subprocess.PIPE,
                                 stderr=log, text=True)
            log.close()
            self.procs.append(p)
            r, _, _ = select.select([p.stdout], [], [], timeout)
            line = p.stdout.readline() if r else ""
            if line.strip() != "READY":
                raise RuntimeError(f"server {argv[1:3]} not ready: {line!r}")
        self._warm_up()

    def _warm_up(self, timeout=10.0):
        """Reach every TCP backend directly (no frontend, nothing to steer) from the
        client, so that neighbour discovery on each hop is done before a test counts."""
        for target in TCP_SERVERS.values():
            p = subprocess.run(self.in_ns("c", [PYTHON, PEER, "connect", "--count", "1",
                                                 target]),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               timeout=timeout)
            if p.returncode or '"errors": {}' not in p.stdout:
                raise RuntimeError(f"backend {target} unreachable: {p.stdout}{p.stderr}")

    def close(self):
        if self.closed:
            return
        try:
            super().close()  # the router namespace (self.netns) and the rest
        finally:
            for k in ("c", "b", "r"):
                if os.path.exists(self.ns_path(k)):
                    run(["ip", "netns", "del", self.ns[k]], check=False)
