#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""make bench: steer against what users would pick instead, side by side.

Every system gets a lane of three network namespaces of its own, built the
same way:  client --veth-- router --veth-- backends.  The backends
(10.244.1.5 = 'A', v1, and 10.244.2.7 = 'B', v2) answer a one-byte request
with their identity; every client dials the service VIP 10.96.0.20:9080
(direct dials the v1 backend: the floor) and is the same program
(build/bench/bench_conn), pinned the same way. Systems (SYSTEMS below):

  direct      no translation at all
  steer-sock  steer's cgroup connect4 hook (client in the steered cgroup)
  steer-tc    steer's TC layer on the router's veths (when it exists)
  iptables    kube-proxy iptables mode in the router: KUBE-SERVICES ->
              KUBE-SVC (statistic random) -> KUBE-SEP (DNAT)
  nftables    kube-proxy nftables mode in the router: one verdict map,
              numgen random mod 100 -> dnat
  haproxy     HAProxy mode tcp in the client namespace (the sidecar)
  nginx       nginx stream in the client namespace (the sidecar)

All with the same 90/10 split. Rounds are interleaved (every system once
per round, the order rotating) and medians with their spread reported,
ratios taken round by round against direct. Everything runs in the
namespaces, cgroup and pin directory made here and is removed on every exit
path; only processes started here are signalled, by PID.
"""
import argparse
import atexit
import json
import math
import os
import platform
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(REPO, "build")
CONN = os.path.join(BUILD, "bench", "bench_conn")
BPFH = os.path.join(BUILD, "bench", "bench_bpf")
EMPTY_OBJ = os.path.join(BUILD, "bench", "empty.bpf.o")
STEERD = os.path.join(BUILD, "steerd")
STEERCTL = os.path.join(BUILD, "steerctl")

VIP, PORT = "10.96.0.20", 9080
BACKENDS = [("10.244.1.5", "A"), ("10.244.2.7", "B")]  # v1, v2
WEIGHTS = (90, 10)
# Bytes of one route's inner map value (struct steer_route_cfg); read from
# the live maps, this is only the fallback for the memory projection.
MAP_MEM_LIMIT = 3 << 30  # never let steer's route maps grow past ~3 GB


def log(msg):
    print(f"bench: {msg}", flush=True)


def run(cmd, check=True, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, **kw)
    if check and r.returncode:
        raise RuntimeError(f"{' '.join(cmd)}: {r.stderr.strip() or r.returncode}")
    return r


def filler_vip(i):
    """The i-th filler service's VIP: 10.97.0.0 upwards (never the measured)."""
    return f"10.{97 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}"


def filler_backend(i, k):
    return f"10.{200 + k * 4 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}"


# ---------------------------------------------------------------------------
class Sandbox:
    """Namespaces, cgroups, pins, temp dir and processes of one run."""

    def __init__(self):
        self.id = f"sb{os.getpid()}{secrets.token_hex(2)}"
        self.netns = []
        self.procs = []  # Popen we started
        cg2 = next(l.split()[1] for l in open("/proc/mounts")
                   if l.split()[2] == "cgroup2")
        self.cg_root = cg2
        self.cg = os.path.join(cg2, f"steer-bench-{self.id}")
        self.pins = f"/sys/fs/bpf/steer-bench-{self.id}"
        self.tmp = tempfile.mkdtemp(prefix=f"steer-bench-{self.id}-")
        self.closed = False
        atexit.register(self.close)
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(s, self._signal)
        os.makedirs(self.cg)
        for c in ("plain", "steer", "steer1", "empty", "tc"):
            os.makedirs(os.path.join(self.cg, c))
        os.makedirs(self.pins)

    def _signal(self, signo, _frame):
        raise SystemExit(128 + signo)

    def cgroup(self, name):
        return os.path.join(self.cg, name)

    def ns(self, name):
        full = f"{self.id}-{name}"
        run(["ip", "netns", "add", full])
        self.netns.append(full)
        run(["ip", "-n", full, "link", "set", "lo", "up"])
        return full

    def nsenter(self, ns, argv):
        return ["nsenter", f"--net=/run/netns/{ns}"] + list(argv)

    def start(self, argv, ns=None, **kw):
        p = subprocess.Popen(self.nsenter(ns, argv) if ns else argv, **kw)
        self.procs.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM):
        if p.poll() is None:
            try:
                os.kill(p.pid, sig)
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
            except ProcessLookupError:
                pass

    def close(self):
        if self.closed:
            return
        self.closed = True
        for p in reversed(self.procs):
            try:
                self.stop(p)
            except Exception as e:  # keep cleaning
                print(f"bench: stop {p.pid}: {e}", file=sys.stderr)
        if os.path.isdir(self.pins):
            for d in os.listdir(self.pins):  # one per steerd started here
                if os.path.isdir(os.path.join(self.pins, d)):
                    run([STEERD, "--cleanup", "--bpffs",
                         os.path.join(self.pins, d)], check=False)
            shutil.rmtree(self.pins, ignore_errors=True)
        for ns in self.netns:
            run(["ip", "netns", "del", ns], check=False)
        for root, dirs, _ in os.walk(self.cg, topdown=False):
            for d in dirs:
                _rmdir(os.path.join(root, d))
        _rmdir(self.cg)
        shutil.rmtree(self.tmp, ignore_errors=True)


def _rmdir(path):
    for _ in range(100):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.05)
    print(f"bench: cannot remove {path}", file=sys.stderr)


# ---------------------------------------------------------------------------
class Lane:
    """client --veth-- router --veth-- backends, for one system."""

    def __init__(self, sb, name, server_threads):
        self.sb, self.name = sb, name
        self.c, self.r, self.s = (sb.ns(f"{name}-{x}") for x in "crs")
        ip = lambda ns, *a: run(["ip", "-n", ns] + list(a))
        ip(self.c, "link", "add", "eth0", "type", "veth", "peer", "name",
           "cli0", "netns", self.r)
        ip(self.s, "link", "add", "eth0", "type", "veth", "peer", "name",
           "srv0", "netns", self.r)
        ip(self.c, "addr", "add", "10.1.0.2/24", "dev", "eth0")
        ip(self.r, "addr", "add", "10.1.0.1/24", "dev", "cli0")
        ip(self.r, "addr", "add", "10.2.0.1/24", "dev", "srv0")
        ip(self.s, "addr", "add", "10.2.0.2/24", "dev", "eth0")
        for ns, dev in ((self.c, "eth0"), (self.r, "cli0"), (self.r, "srv0"),
                        (self.s, "eth0")):
            ip(ns, "link", "set", dev, "up")
        ip(self.c, "route", "add", "default", "via", "10.1.0.1")
        ip(self.s, "route", "add", "default", "via", "10.2.0.1")
        ip(self.r, "route", "add", "10.244.0.0/16", "via", "10.2.0.2")
        run(sb.nsenter(self.r, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]))
        for a, _ in BACKENDS:
            ip(self.s, "addr", "add", f"{a}/32", "dev", "lo")
        specs = [f"{a}:{PORT}={ident}" for a, ident in BACKENDS]
        self.server = sb.start([CONN, "--serve", "--threads",
                                str(server_threads)] + specs, ns=self.s,
                               stdout=subprocess.PIPE, text=True)
        if self.server.stdout.readline().strip() != "READY":
            raise RuntimeError(f"lane {name}: backends did not start")


# ---------------------------------------------------------------------------
# The systems. Each: lane setup, install(N) -> seconds, client argv, teardown.
class System:
    name = ""
    label = ""
    dial = (VIP, PORT)
    cgroup = "plain"
    max_scale = 10**9
    note = ""

    def __init__(self, bench):
        self.b = bench
        self.sb = bench.sb
        self.lane = None
        self.available = True

    def setup(self):
        self.lane = Lane(self.sb, self.name, self.b.args.server_threads)

    def install(self, n):
        return None  # nothing to install

    def client_ns(self):
        return self.lane.c

    def stats_link(self):
        return None


class Direct(System):
    name, label = "direct", "direct (no steering)"
    dial = (BACKENDS[0][0], PORT)
    note = "client dials the v1 backend itself: the floor"


class SteerSock(System):
    name, label = "steer-sock", "steer socket layer"
    cgroup = "steer"
    note = "cgroup connect4 hook rewrites the destination at connect()"

    def install(self, n):
        return self.b.steer.install(n)

    def stats_link(self):
        return os.path.join(self.b.steer.pins, "links", "connect4")


class SteerSockRef(System):
    """steer's socket layer with one route, always: the paired reference
    that the socket layer at N routes is compared with, round by round."""
    name, label = "steer-sock-1", "steer socket layer, 1 route (reference)"
    cgroup = "steer1"
    note = ("a second steerd holding only the measured route, in the socket "
            "layer's lane: steer at N routes over this, same round")

    def setup(self):
        sock = next((s for s in self.b.systems if s.name == "steer-sock"),
                    None)
        if not sock:
            self.available = False
            self.note = "not run: needs the steer-sock lane"
            return
        self.lane = sock.lane

    def stats_link(self):
        return os.path.join(self.b.steer_ref.pins, "links", "connect4")


class SteerTc(System):
    name, label = "steer-tc", "steer TC layer"
    note = "TC programs on the router's veths (steerd --tc-iface)"

    def __init__(self, bench):
        super().__init__(bench)
        self.available = bench.steer.tc_available
        if not self.available:
            self.note = ("not available: bpf/tc.bpf.c and steerd --tc-iface "
                         "are not on this branch yet")

    def install(self, n):
        return self.b.steer.install(n)


class Iptables(System):
    name, label = "iptables", "kube-proxy iptables"
    note = "iptables-restore into the router's nat table (nf_tables backend)"

    def install(self, n):
        lines = ["*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]",
                 ":OUTPUT ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]",
                 ":KUBE-SERVICES - [0:0]"]
        svcs = [(filler_vip(i), [filler_backend(i, 0), filler_backend(i, 1)])
                for i in range(n - 1)]
        svcs.append((VIP, [a for a, _ in BACKENDS]))  # measured: last
        p = WEIGHTS[0] / 100
        for i, _ in enumerate(svcs):
            lines += [f":KUBE-SVC-{i} - [0:0]", f":KUBE-SEP-{i}-A - [0:0]",
                      f":KUBE-SEP-{i}-B - [0:0]"]
        lines.append("-A PREROUTING -m comment --comment kubernetes-services "
                     "-j KUBE-SERVICES")
        for i, (vip, be) in enumerate(svcs):
            lines += [
                f"-A KUBE-SERVICES -d {vip}/32 -p tcp -m tcp --dport {PORT} "
                f"-j KUBE-SVC-{i}",
                f"-A KUBE-SVC-{i} -m statistic --mode random --probability "
                f"{p:.11f} -j KUBE-SEP-{i}-A",
                f"-A KUBE-SVC-{i} -j KUBE-SEP-{i}-B",
                f"-A KUBE-SEP-{i}-A -p tcp -m tcp -j DNAT --to-destination "
                f"{be[0]}:{PORT}",
                f"-A KUBE-SEP-{i}-B -p tcp -m tcp -j DNAT --to-destination "
                f"{be[1]}:{PORT}",
            ]
        lines.append("COMMIT\n")
        path = os.path.join(self.sb.tmp, "iptables.rules")
        with open(path, "w") as f:
            f.write("\n".join(lines))
        t0 = time.monotonic()
        with open(path) as f:
            r = subprocess.run(self.sb.nsenter(self.lane.r, ["iptables-restore"]),
                               stdin=f, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               timeout=self.b.args.install_timeout)
        if r.returncode:
            raise RuntimeError(f"iptables-restore: {r.stderr.strip()}")
        return time.monotonic() - t0


class Nftables(System):
    name, label = "nftables", "kube-proxy nftables"
    note = "nft -f: ip daddr . tcp dport vmap -> numgen random mod 100 dnat"

    def install(self, n):
        svcs = [(filler_vip(i), [filler_backend(i, 0), filler_backend(i, 1)])
                for i in range(n - 1)]
        svcs.append((VIP, [a for a, _ in BACKENDS]))
        w = WEIGHTS[0]
        out = ["table ip steerbench", "delete table ip steerbench",
               "table ip steerbench {"]
        for i, (vip, be) in enumerate(svcs):
            out.append(f" chain svc-{i} {{ dnat to numgen random mod 100 map "
                       f"{{ 0-{w - 1} : {be[0]}, {w}-99 : {be[1]} }}; }}")
        elems = ", ".join(f"{vip} . {PORT} : goto svc-{i}"
                          for i, (vip, _) in enumerate(svcs))
        out.append(" map services { type ipv4_addr . inet_service : verdict; "
                   f"elements = {{ {elems} }}; }}")
        out.append(" chain prerouting { type nat hook prerouting priority "
                   "dstnat; policy accept; ip daddr . tcp dport vmap "
                   "@services; }")
        out.append("}\n")
        path = os.path.join(self.sb.tmp, "nft.rules")
        with open(path, "w") as f:
            f.write("\n".join(out))
        t0 = time.monotonic()
        run(self.sb.nsenter(self.lane.r, ["nft", "-f", path]),
            timeout=self.b.args.install_timeout)
        return time.monotonic() - t0


class Proxy(System):
    """A userspace proxy in the client's namespace, listening on the VIP."""
    max_scale = 10000  # one listener per service: ports 20000.. on the VIP
    proc = None

    def setup(self):
        super().setup()
        run(["ip", "-n", self.lane.c, "addr", "add", f"{VIP}/32", "dev", "lo"])

    def install(self, n):
        if self.proc:
            self.sb.stop(self.proc)
            self.proc = None
        cfg = self.config(n)
        t0 = time.monotonic()
        self.proc = self.sb.start(self.argv(cfg), ns=self.lane.c,
                                  stdout=subprocess.DEVNULL,
                                  stderr=open(cfg + ".log", "w"))
        deadline = t0 + self.b.args.install_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: "
                                   f"{open(cfg + '.log').read()[-400:]}")
            r = run([CONN, "--connect", f"{VIP}:{PORT}", "--netns",
                     self.lane.c, "--count", "1", "--seconds", "1"],
                    check=False)
            if r.returncode == 0 and '"conns": 1' in r.stdout:
                return time.monotonic() - t0
            time.sleep(0.02)
        raise RuntimeError(f"{self.name} not ready after "
                           f"{self.b.args.install_timeout}s")


class Haproxy(Proxy):
    name, label = "haproxy", "HAProxy mode tcp"
    note = "sidecar in the client namespace, nbthread 2, roundrobin 90/10"

    def config(self, n):
        t = self.b.args.proxy_threads
        out = ["global", f"  nbthread {t}", "  maxconn 4000",
               "defaults", "  mode tcp", "  timeout connect 5s",
               "  timeout client 30s", "  timeout server 30s"]
        for i in range(n):
            port = PORT if i == n - 1 else 20000 + i
            be = ([a for a, _ in BACKENDS] if i == n - 1 else
                  [filler_backend(i, 0), filler_backend(i, 1)])
            out += [f"listen svc{i}", f"  bind {VIP}:{port}",
                    "  balance roundrobin",
                    f"  server a {be[0]}:{PORT} weight {WEIGHTS[0]}",
                    f"  server b {be[1]}:{PORT} weight {WEIGHTS[1]}"]
        path = os.path.join(self.sb.tmp, "haproxy.cfg")
        with open(path, "w") as f:
            f.write("\n".join(out) + "\n")
        return path

    def argv(self, cfg):
        return ["haproxy", "-db", "-f", cfg]


class Nginx(Proxy):
    name, label = "nginx", "nginx stream"
    note = "sidecar in the client namespace, 2 workers, weighted round robin"

    def config(self, n):
        t = self.b.args.proxy_threads
        d = os.path.join(self.sb.tmp, "nginx")
        os.makedirs(d, exist_ok=True)
        out = ["load_module /usr/lib/nginx/modules/ngx_stream_module.so;",
               f"worker_processes {t};", f"pid {d}/nginx.pid;",
               "daemon off;", f"error_log {d}/error.log warn;",
               "worker_rlimit_nofile 19000;",
               "events { worker_connections 18000; }", "stream {"]
        for i in range(n):
            port = PORT if i == n - 1 else 20000 + i
            be = ([a for a, _ in BACKENDS] if i == n - 1 else
                  [filler_backend(i, 0), filler_backend(i, 1)])
            out += [f" upstream u{i} {{ server {be[0]}:{PORT} "
                    f"weight={WEIGHTS[0]}; server {be[1]}:{PORT} "
                    f"weight={WEIGHTS[1]}; }}",
                    f" server {{ listen {VIP}:{port}; proxy_pass u{i}; }}"]
        out.append("}")
        path = os.path.join(d, "nginx.conf")
        with open(path, "w") as f:
            f.write("\n".join(out) + "\n")
        return path

    def argv(self, cfg):
        d = os.path.dirname(cfg)
        return ["nginx", "-p", d, "-e", f"{d}/error.log", "-c", cfg]


SYSTEMS = [Direct, SteerSock, SteerSockRef, SteerTc, Iptables, Nftables,
           Haproxy, Nginx]


# ---------------------------------------------------------------------------
class Steer:
    """One steerd for both steer lanes: its maps hold the N routes."""

    def __init__(self, bench, name="steer", cgroup="steer", max_routes=None):
        self.b = bench
        self.sb = bench.sb
        self.cgroup = cgroup
        self.pins = os.path.join(self.sb.pins, name)
        self.routes = os.path.join(self.sb.tmp, f"routes-{name}")
        os.makedirs(self.routes)
        self.proc = None
        self.n = 0
        self.log_lines = []
        help_text = run([STEERD, "--help"], check=False).stdout
        self.tc_available = (os.path.exists(os.path.join(REPO, "bpf", "tc.bpf.c"))
                             and "--tc-iface" in help_text)
        self.max_routes = max_routes or bench.steer_max

    def route_doc(self, name, vip, be, split=WEIGHTS):
        return (f"kind: Route\nname: {name}\nfrontends: [{vip}:{PORT}]\n"
                f"versions:\n  v1: {{backends: [{be[0]}:{PORT}]}}\n"
                f"  v2: {{backends: [{be[1]}:{PORT}]}}\n"
                f"rules:\n  - name: default\n"
                f"    split: {{v1: {split[0]}, v2: {split[1]}}}\n")

    def write_routes(self, n, first_split=WEIGHTS):
        docs = [self.route_doc(f"svc-{i}", filler_vip(i),
                               [filler_backend(i, 0), filler_backend(i, 1)],
                               first_split if i == 0 else WEIGHTS)
                for i in range(n - 1)]
        docs.append(self.route_doc("bench", VIP, [a for a, _ in BACKENDS]))
        tmp = self.routes + ".yaml.tmp"
        with open(tmp, "w") as f:
            f.write("---\n".join(docs))
        return tmp

    def start(self, tc_lane):
        self.write_routes(1)
        os.rename(self.routes + ".yaml.tmp",
                  os.path.join(self.routes, "routes.yaml"))
        argv = [STEERD, "--routes", self.routes, "--bpffs", self.pins,
                "--cgroup", self.sb.cgroup(self.cgroup), "--metrics", "off",
                "--max-routes", str(self.max_routes)]
        ns = None
        if tc_lane is not None and self.tc_available:
            argv += ["--tc-iface", "cli0,srv0"]
            ns = tc_lane.r
        self.proc = self.sb.start(argv, ns=ns, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
        self.wait_applied(60)

    def wait_applied(self, timeout, why=None):
        """Read steerd's log until an 'applied' line (for @why) comes."""
        import select
        deadline = time.monotonic() + timeout
        err = self.proc.stderr
        while time.monotonic() < deadline:
            r, _, _ = select.select([err], [], [], 0.5)
            if not r:
                if self.proc.poll() is not None:
                    break
                continue
            line = err.readline()
            if not line:
                break
            self.log_lines.append(line.rstrip())
            if "applied" in line and (why is None or why in line):
                return time.monotonic(), line
            if "configuration unchanged" in line:
                raise RuntimeError(f"steerd refused the routes: {line.strip()}")
        raise RuntimeError("steerd did not apply: " + " | ".join(self.log_lines[-5:]))

    def install(self, n):
        """Routes for N services; returns the apply time (SIGHUP -> applied)."""
        if n == self.n:
            return self.last_apply
        tmp = self.write_routes(n)
        os.rename(tmp, os.path.join(self.routes, "routes.yaml"))
        # The rename also wakes the inotify watch (applied 100 ms later,
        # unchanged by then); SIGHUP applies at once and is what is timed.
        t0 = time.monotonic()
        os.kill(self.proc.pid, signal.SIGHUP)
        t1, _ = self.wait_applied(600, "SIGHUP")
        try:  # the debounced no-op apply, when it comes
            self.wait_applied(2, "changed")
        except RuntimeError:
            pass
        self.n = n
        self.last_apply = t1 - t0
        return self.last_apply

    def change_one(self, split):
        """The file with one route's split changed, N routes live: seconds
        from SIGHUP to applied (only that route is republished)."""
        tmp = self.write_routes(self.n, first_split=split)
        os.rename(tmp, os.path.join(self.routes, "routes.yaml"))
        t0 = time.monotonic()
        os.kill(self.proc.pid, signal.SIGHUP)
        t1, line = self.wait_applied(600, "SIGHUP")
        try:
            self.wait_applied(2, "changed")
        except RuntimeError:
            pass
        return t1 - t0, line

    def memory(self):
        """steerd RSS and the bytes of every map steer holds for its routes."""
        st = {}
        for line in open(f"/proc/{self.proc.pid}/status"):
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                st[k] = int(v.split()[0]) * 1024
        maps = json.loads(run(["bpftool", "-j", "map", "show"]).stdout)
        by_id = {m["id"]: m for m in maps}
        total, inner, n_inner = 0, 0, 0
        d = os.path.join(self.pins, "maps")
        for name in sorted(os.listdir(d)):
            p = os.path.join(d, name)
            r = run(["bpftool", "-j", "map", "show", "pinned", p], check=False)
            if r.returncode:
                continue
            total += json.loads(r.stdout).get("bytes_memlock", 0)
            if not name.startswith("steer_routes"):
                continue
            for e in json.loads(run(["bpftool", "-j", "map", "dump",
                                     "pinned", p]).stdout):
                v = e.get("value", e.get("inner_map_id"))
                if isinstance(v, list):
                    v = int.from_bytes(bytes(int(x, 16) for x in v), "little")
                if v in by_id:
                    inner += by_id[v].get("bytes_memlock", 0)
                    n_inner += 1
        st["map_bytes"] = total + inner
        st["inner_bytes"] = inner
        st["n_inner"] = n_inner
        return st

    def ctl(self, *args):
        return run([STEERCTL, "--bpffs", self.pins] + list(args))


# ---------------------------------------------------------------------------
def median(xs):
    return statistics.median(xs) if xs else float("nan")


def chi2_p(observed, expected):
    """Chi-square statistic and p-value, 1 degree of freedom (two bins)."""
    chi2 = sum((o - e) ** 2 / e for o, e in zip(observed, expected) if e > 0)
    return chi2, math.erfc(math.sqrt(chi2 / 2))


class Bench:
    def __init__(self, args):
        self.args = args
        self.sb = Sandbox()
        self.results = {"scales": {}, "install": {}, "control": {},
                        "hook": {}, "split": [], "notes": {}}
        scales = [int(x) for x in args.scales.split(",")]
        self.scales = scales
        # The largest route count steer's maps may take here (~3 GB).
        self.steer_max = max(1, min(max(scales), args.steer_max))

    def client(self, sysm, seconds=None, count=None, extra=()):
        host, port = sysm.dial
        argv = [CONN, "--connect", f"{host}:{port}", "--netns",
                sysm.client_ns(), "--cgroup", self.sb.cgroup(sysm.cgroup),
                "--cpus", self.args.cpus]
        if seconds:
            argv += ["--seconds", str(seconds), "--warmup",
                     str(self.args.warmup)]
        if count:
            argv += ["--count", str(count)]
        r = run(argv + list(extra), check=False, timeout=700)
        if r.returncode:
            raise RuntimeError(f"client on {sysm.name}: {r.stderr.strip()} "
                               f"{r.stdout.strip()}")
        return json.loads(r.stdout)

    def setup(self):
        a = self.args
        self.steer = Steer(self)
        self.systems = []
        for cls in SYSTEMS:
            s = cls(self)
            if a.systems and s.name not in a.systems.split(","):
                continue
            self.systems.append(s)
            if s.available:
                s.setup()
        tc = next((s for s in self.systems if s.name == "steer-tc"), None)
        self.steer.start(tc.lane if tc and tc.available else None)
        self.steer_ref = Steer(self, "steer1", "steer1", max_routes=1)
        self.steer_ref.tc_available = False
        self.steer_ref.start(None)
        # The empty connect4 baseline, attached as steerd attaches steer's.
        self.empty_link = os.path.join(self.sb.pins, "empty_connect4")
        run([BPFH, "attach", EMPTY_OBJ, "bench_empty_connect4",
             self.sb.cgroup("empty"), self.empty_link])

    def measure_scale(self, n):
        a = self.args
        log(f"--- {n} service(s) ---")
        res = {"install_s": {}, "rounds": {}, "skipped": {}}
        live = []
        for s in self.systems:
            if not s.available:
                res["skipped"][s.name] = s.note
                continue
            if n > s.max_scale or (s.name.startswith("steer") and
                                   n > self.steer_max):
                res["skipped"][s.name] = self.skip_reason(s, n)
                continue
            try:
                t = s.install(n)
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                res["skipped"][s.name] = f"install failed: {str(e)[:200]}"
                log(f"{s.name}: install of {n} failed: {e}")
                continue
            if t is not None:
                res["install_s"][s.name] = t
                log(f"{s.name}: {n} services installed in {t:.3f} s")
            live.append(s)
        for r in range(a.rounds):
            order = live[r % len(live):] + live[:r % len(live)]
            for s in order:
                out = self.client(s, seconds=a.seconds)
                res["rounds"].setdefault(s.name, []).append(out)
            log(f"round {r + 1}/{a.rounds}: " + ", ".join(
                f"{s.name} {res['rounds'][s.name][-1]['rate']:.0f}/s"
                for s in live))
        if any(s.name == "steer-sock" for s in live):
            self.control_plane(n, res)
        self.results["scales"][str(n)] = res

    def skip_reason(self, s, n):
        if s.name.startswith("steer"):
            per = self.results["notes"].get("route_bytes", 0)
            need = f"{per * n / 2**30:.1f} GiB" if per else "too much memory"
            return (f"not run: {n} routes need {need} of route maps "
                    f"(limit here ~{MAP_MEM_LIMIT / 2**30:.0f} GB; largest "
                    f"run: {self.steer_max})")
        return f"not run: one listener per service, {s.max_scale} at most"

    def control_plane(self, n, res):
        st = self.steer.memory()
        if st.get("n_inner"):
            self.results["notes"]["route_bytes"] = st["inner_bytes"] / st["n_inner"]
        sock = next(s for s in self.systems if s.name == "steer-sock")
        ref = next((s for s in self.systems if s.name == "steer-sock-1"
                    and s.available), None)
        # The hook's own cost at this scale, and with one route (paired).
        hook, hook_ref = [], []
        for _ in range(2):
            for s, acc in ((sock, hook), (ref, hook_ref)):
                if not s:
                    continue
                out = self.client(s, seconds=min(1.0, self.args.seconds),
                                  extra=["--stats-link", s.stats_link()])
                if out.get("prog_run_cnt"):
                    acc.append(out["prog_run_ns"] / out["prog_run_cnt"])
        st["hook_ns"] = median(hook) if hook else None
        st["hook_ref_ns"] = median(hook_ref) if hook_ref else None
        # A split change: steerctl set -> first connection on the new split.
        lives, cmds, sets = [], [], []
        for _ in range(self.args.switch_reps):
            self.steer.ctl("set", "bench", "v1=100", "v2=0")
            cmd = (f"{STEERCTL} --bpffs {self.steer.pins} set bench "
                   "v1=0 v2=100 >/dev/null")
            out = self.client(sock, seconds=0.6,
                              extra=["--switch-cmd", cmd, "--switch-to", "B"])
            if out.get("switch_status") == 0 and out["switch_first_new_ms"] >= 0:
                lives.append(out["switch_first_new_ms"])
                cmds.append(out["switch_cmd_ms"])
            t0 = time.monotonic()
            self.steer.ctl("set", "bench", f"v1={WEIGHTS[0]}", f"v2={WEIGHTS[1]}")
            sets.append((time.monotonic() - t0) * 1000)
        # One route's file changed with N routes live (SIGHUP -> applied).
        ones = []
        for split in ((WEIGHTS[1], WEIGHTS[0]), WEIGHTS) * 2:
            if self.steer.n > 1:
                t, _ = self.steer.change_one(split)
                ones.append(t * 1000)
        st["one_route_apply_ms"] = ones
        st["switch_live_ms"] = lives
        st["switch_cmd_ms"] = cmds
        st["set_ms"] = sets
        res["control"] = st
        log(f"steer at {n}: RSS {st.get('VmRSS', 0) / 2**20:.1f} MiB, maps "
            f"{st['map_bytes'] / 2**20:.1f} MiB "
            f"({st['map_bytes'] / max(n, 1):.0f} B a route), set live in "
            f"{median(lives):.2f} ms (steerctl {median(cmds):.2f} ms), one "
            f"route's file changed: applied in "
            f"{median(ones) if ones else float('nan'):.1f} ms")

    def hook_cost(self):
        """connect4: steer minus the empty program, interleaved."""
        sock = next((s for s in self.systems if s.name == "steer-sock"), None)
        direct = next((s for s in self.systems if s.name == "direct"), None)
        if not sock or not direct:
            return
        self.steer.install(1)
        empty = Direct(self)
        empty.lane, empty.cgroup = direct.lane, "empty"
        vals = {"steer": [], "empty": []}
        for _ in range(self.args.rounds):
            for name, s, link in (("steer", sock, sock.stats_link()),
                                  ("empty", empty, self.empty_link)):
                out = self.client(s, seconds=min(1.0, self.args.seconds),
                                  extra=["--stats-link", link])
                if out.get("prog_run_cnt"):
                    vals[name].append(out["prog_run_ns"] / out["prog_run_cnt"])
        self.results["hook"]["connect4"] = vals
        tc = {"steer": None, "empty": []}
        calls = str(self.args.testrun_calls)
        for _ in range(3):
            r = run([BPFH, "testrun", EMPTY_OBJ, "bench_empty_tc", calls])
            tc["empty"].append(json.loads(r.stdout)["ns_median"])
        if self.steer.tc_available:
            tc["steer"], tc["retval"] = [], None
            obj = os.path.join(BUILD, "tc.bpf.o")
            for _ in range(3):
                r = run([BPFH, "testrun", obj, "steer_tc_ingress", calls,
                         os.path.join(self.steer.pins, "maps")], check=False)
                if r.returncode == 0:
                    out = json.loads(r.stdout)
                    tc["steer"].append(out["ns_median"])
                    tc["retval"] = [out["syn_retval"], out["ack_retval"]]
                    tc["ack_daddr_out"] = out["ack_daddr_out"]
                else:
                    tc["error"] = r.stderr.strip()[-300:]
        self.results["hook"]["tc"] = tc

    def split_accuracy(self):
        sock = next((s for s in self.systems if s.name == "steer-sock"), None)
        if not sock:
            return
        self.steer.install(1)
        for v1, v2 in ((1, 99), (10, 90), (50, 50)):
            self.steer.ctl("set", "bench", f"v1={v1}", f"v2={v2}")
            out = self.client(sock, count=self.args.split_conns)
            a, b = out["replies"].get("A", 0), out["replies"].get("B", 0)
            tot = a + b
            chi2, p = chi2_p([a, b], [tot * v1 / 100, tot * v2 / 100])
            self.results["split"].append({
                "want": [v1, v2], "got": [a, b], "errors": out["errors"],
                "chi2": chi2, "p": p, "rate": out["rate"]})
            log(f"split {v1}/{v2}: {a}/{b} of {tot} "
                f"({100 * a / max(tot, 1):.3f} %), chi2 {chi2:.3f}, p {p:.3f}")
        self.steer.ctl("set", "bench", f"v1={WEIGHTS[0]}", f"v2={WEIGHTS[1]}")


# ---------------------------------------------------------------------------
def machine_notes(args, t_start, load0):
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), platform.machine())
    return {
        "kernel": platform.release(), "cpus": os.cpu_count(), "cpu": cpu,
        "mem_gib": round(os.sysconf("SC_PAGE_SIZE") *
                         os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "load_before": load0, "load_after": os.getloadavg(),
        "duration_s": round(time.monotonic() - t_start, 1),
        "iptables": run(["iptables", "--version"], check=False).stdout.strip(),
        "nft": run(["nft", "--version"], check=False).stdout.strip(),
        "haproxy": run(["haproxy", "-v"], check=False).stdout.split("\n")[0],
        "nginx": run(["nginx", "-v"], check=False).stderr.strip(),
        "args": vars(args),
    }


def fmt_rate(x):
    return f"{x:,.0f}"


def write_report(b, out_dir):
    from report import render  # tools/bench/report.py
    render(b, out_dir)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="CI smoke run: 1 and 1000 services, short rounds")
    ap.add_argument("--out", default=os.path.join(BUILD, "bench"))
    ap.add_argument("--scales", default="1,1000,10000,100000")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--warmup", type=float, default=0.2)
    ap.add_argument("--cpus", default=",".join(str(c) for c in
                                               range(os.cpu_count() or 1)),
                    help="one client thread per CPU listed, pinned there")
    ap.add_argument("--server-threads", type=int, default=4)
    ap.add_argument("--proxy-threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--systems", default="",
                    help="comma-separated subset (default: all)")
    ap.add_argument("--steer-max", type=int, default=100000,
                    help="most routes steer's maps get here (~3 KB of map "
                         "memory each)")
    ap.add_argument("--split-conns", type=int, default=100000)
    ap.add_argument("--switch-reps", type=int, default=5)
    ap.add_argument("--testrun-calls", type=int, default=20000,
                    help="packets (one per BPF_PROG_TEST_RUN call) per figure")
    ap.add_argument("--install-timeout", type=float, default=180)
    args = ap.parse_args()
    if args.quick:
        args.scales = "1,1000"
        args.rounds, args.seconds, args.warmup = 3, 1.0, 0.1
        args.split_conns, args.switch_reps = 20000, 3
        args.testrun_calls = 5000
        args.install_timeout = 60
    if os.geteuid() != 0:
        sys.exit("bench: needs root (namespaces, a cgroup, BPF)")
    for p in (CONN, BPFH, EMPTY_OBJ, STEERD, STEERCTL):
        if not os.path.exists(p):
            sys.exit(f"bench: {p} missing: run make")
    t_start, load0 = time.monotonic(), os.getloadavg()
    b = Bench(args)
    try:
        b.setup()
        for n in b.scales:
            b.measure_scale(n)
        b.hook_cost()
        b.split_accuracy()
    finally:
        b.results["notes"].update(machine_notes(args, t_start, load0))
        b.results["systems"] = [
            {"name": s.name, "label": s.label, "note": s.note,
             "available": s.available} for s in b.systems]
        b.results["steer_log"] = b.steer.log_lines[-20:] if hasattr(b, "steer") else []
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "results.json"), "w") as f:
            json.dump(b.results, f, indent=1)
        b.sb.close()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    write_report(b.results, args.out)
    log(f"report: {os.path.join(args.out, 'report.md')}")


if __name__ == "__main__":
    sys.dont_write_bytecode = True
    main()
