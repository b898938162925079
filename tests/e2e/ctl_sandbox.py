# SPDX-License-Identifier: BSD-2-Clause
"""Sandbox for the steerctl end-to-end tests (DESIGN.md §8), stdlib only.

CtlSandbox owns, per run: a network namespace steer-ctl-<hex> (backend
addresses on its lo, the VIP range 10.96.0.0/16 unreachable so an
untranslated connect fails inside), a cgroup v2 directory with children
"users" and "testers", a pin directory /sys/fs/bpf/steer-ctl-<hex>, a temp
directory (routes, logs), the demo servers and steerd. close() removes all
of it, is idempotent and also runs at exit; only processes started here are
signalled, by PID. Kept apart from tests/e2e/conftest.py on purpose.
"""
import atexit
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PY = "/usr/bin/python3"
STEERD = os.path.join(REPO, "build", "steerd")
STEERCTL = os.path.join(REPO, "build", "steerctl")
CLIENT = os.path.join(REPO, "tools", "demo_client.py")
SERVER = os.path.join(REPO, "tools", "demo_server.py")

# label=address the servers listen on; the label is what a client tallies.
SERVERS = ["v1=10.244.1.5:9080", "v1=10.244.1.6:9080",
           "v2=10.244.2.7:9080", "v2=10.244.2.8:9080",
           "shared=10.244.3.3:9080"]
ADDRS = ["10.244.1.5", "10.244.1.6", "10.244.2.7", "10.244.2.8", "10.244.3.3"]

_open = []


@atexit.register
def _close_all():
    for sb in list(_open):
        sb.close()


def _sigterm(signum, frame):
    # Unwind like Ctrl-C, so fixture finalizers and atexit remove the sandbox.
    raise SystemExit(128 + signum)


def cgroup2_mount():
    with open("/proc/mounts") as f:
        for line in f:
            dev, mnt, fstype = line.split()[:3]
            if fstype == "cgroup2":
                return mnt
    raise RuntimeError("no cgroup2 mount in /proc/mounts")


def run(cmd, check=True, **kw):
    return subprocess.run(cmd, check=check, text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, **kw)


class CtlSandbox:
    def __init__(self):
        if os.geteuid() != 0:
            raise PermissionError("the steerctl e2e sandbox needs root")
        self.name = "steer-ctl-" + secrets.token_hex(4)
        self.netns = self.name
        self.cgroup = os.path.join(cgroup2_mount(), self.name)
        self.pin = os.path.join("/sys/fs/bpf", self.name)
        self.tmp = tempfile.mkdtemp(prefix=self.name + "-")
        self.routes = os.path.join(self.tmp, "routes")
        self.server = None
        self.steerd = None
        self.steerd_log = None
        self._made_ns = False
        self._closed = False
        _open.append(self)
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _sigterm)

    # ---- setup ----------------------------------------------------------
    def open(self, route_files):
        """route_files: {filename: yaml text}; starts servers and steerd."""
        try:
            run(["ip", "netns", "add", self.netns])
            self._made_ns = True
            ipn = ["ip", "-n", self.netns]
            run(ipn + ["link", "set", "lo", "up"])
            for a in ADDRS:
                run(ipn + ["addr", "add", a + "/32", "dev", "lo"])
            run(ipn + ["route", "add", "unreachable", "10.96.0.0/16"])
            for d in (self.cgroup, self.cg("users"), self.cg("testers")):
                os.mkdir(d)
            os.mkdir(self.routes)
            for name, text in route_files.items():
                with open(os.path.join(self.routes, name), "w") as f:
                    f.write(text)
            self.server = subprocess.Popen(
                self.nsenter([PY, SERVER] + SERVERS), stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True)
            if self.server.stdout.readline().strip() != "ready":
                raise RuntimeError("demo servers did not start")
            self.start_steerd()
        except BaseException:
            self.close()
            raise
        return self

    def cg(self, child=""):
        return os.path.join(self.cgroup, child) if child else self.cgroup

    def nsenter(self, argv):
        return ["nsenter", "--net=/run/netns/" + self.netns] + list(argv)

    # ---- steerd ---------------------------------------------------------
    def start_steerd(self, timeout=10.0):
        log = os.path.join(self.tmp, "steerd.log")
        start = os.path.getsize(log) if os.path.exists(log) else 0
        self.steerd_log = open(log, "a")
        self.steerd = subprocess.Popen(
            [STEERD, "--routes", self.routes, "--cgroup", self.cgroup,
             "--bpffs", self.pin, "--metrics", "off"],
            stdout=self.steerd_log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(log) as f:
                f.seek(start)
                if "ready: watching" in f.read():
                    return
            if self.steerd.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("steerd did not become ready:\n" + self.log_tail())

    def kill9_steerd(self):
        if self.steerd and self.steerd.poll() is None:
            os.kill(self.steerd.pid, signal.SIGKILL)
            self.steerd.wait(timeout=5)
        self.steerd = None

    def log_tail(self, n=20):
        try:
            with open(os.path.join(self.tmp, "steerd.log")) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def write_route(self, name, text, until, timeout=5.0):
        """Replace a route file (atomic rename) and wait until until(status)."""
        tmp = os.path.join(self.routes, "." + name + ".tmp")
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, os.path.join(self.routes, name))
        return self.wait_status(until, timeout)

    def wait_status(self, until, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            st = self.status()
            if until(st):
                return st
            if time.monotonic() > deadline:
                raise AssertionError("timed out; status: %s\nsteerd log:\n%s"
                                     % (json.dumps(st), self.log_tail()))
            time.sleep(0.05)

    # ---- steerctl and traffic ---------------------------------------------
    def ctl(self, *args, json_out=False, check=False):
        cmd = [STEERCTL, "--bpffs", self.pin]
        if json_out:
            cmd += ["-o", "json"]
        return run(cmd + list(args), check=check)

    def ctl_json(self, *args):
        p = self.ctl(*args, json_out=True, check=True)
        return json.loads(p.stdout)

    def status(self):
        """{route name: route} from steerctl -o json status."""
        return {r["name"]: r for r in self.ctl_json("status")["routes"]}

    def observe(self, n=200, who="users", uid=None, target="10.96.0.20:9080"):
        """Make n real connections from cgroup @who; return the tally."""
        argv = [PY, CLIENT, "--cgroup", self.cg(who), "--count", str(n)]
        if uid is not None:
            argv += ["--uid", str(uid)]
        p = run(self.nsenter(argv + [target]), timeout=60)
        return json.loads(p.stdout)

    def snapshot(self):
        """The routes map and every inner map it points at, as bpftool
        dumps them, plus the frontends map: equal snapshots mean the kernel
        state did not change (inner maps are frozen: same id, same bytes)."""
        maps = os.path.join(self.pin, "maps")
        outer = json.loads(run(["bpftool", "-j", "map", "dump", "pinned",
                                os.path.join(maps, "steer_routes_v1")]).stdout)
        snap = {"outer": outer, "inner": {},
                "frontends": json.loads(run(
                    ["bpftool", "-j", "map", "dump", "pinned",
                     os.path.join(maps, "steer_frontends_v1")]).stdout)}
        for e in outer:
            inner_id = e.get("inner_map_id")
            if inner_id is None:
                inner_id = int.from_bytes(
                    bytes(int(x, 16) for x in e["value"]), sys.byteorder)
            snap["inner"][inner_id] = run(
                ["bpftool", "map", "dump", "id", str(inner_id)]).stdout
        return snap

    # ---- teardown ---------------------------------------------------------
    def close(self):
        if self._closed:
            return
        self._closed = True
        for p in (self.steerd, self.server):
            if p and p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=5)
        if self.server and self.server.stdout:
            self.server.stdout.close()
        if self.steerd_log:
            self.steerd_log.close()
        if os.path.isdir(self.pin):
            run([STEERD, "--cleanup", "--bpffs", self.pin], check=False)
            shutil.rmtree(self.pin, ignore_errors=True)
        if self._made_ns:
            run(["ip", "netns", "del", self.netns], check=False)
        for d in (self.cg("users"), self.cg("testers"), self.cgroup):
            for _ in range(50):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)
        shutil.rmtree(self.tmp, ignore_errors=True)
        if self in _open:
            _open.remove(self)
