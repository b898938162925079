# SPDX-License-Identifier: BSD-2-Clause
"""Isolated sandbox for the steer end-to-end tests (docs/DESIGN.md §8).

One Sandbox owns, per run:
  * a network namespace  steer-e2e-<suffix>  (lo up, dummy svc0 with the backend and
    client source addresses, "unreachable" routes for the frontend ranges so an
    untranslated connect fails fast and never leaves the namespace);
  * a cgroup v2 directory  <cgroup2 mount>/steer-e2e-<suffix>  (children made on demand);
  * a bpffs pin directory  /sys/fs/bpf/steer-e2e-<suffix>;
  * a temporary directory (routes, logs);
  * the echo-server process (tests/e2e/echo_server.py) inside the namespace.

Everything is removed by close(), which is idempotent and is also registered with
atexit, so it runs on fixture teardown, on a test failure, on an uncaught exception
and on SIGTERM/SIGINT (conftest turns them into exceptions).  Only processes that
this module started are ever signalled, by PID.
"""
import atexit
import errno
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FIXTURES = HERE  # echo_server.py, steer_probe.py (shared with tools/demo.sh)
PYTHON = "/usr/bin/python3"
BPFFS_ROOT = "/sys/fs/bpf"

# Addresses on svc0 inside the namespace.
V4_ADDRS = ["10.244.1.5", "10.244.1.6", "10.244.2.7", "10.244.2.8",
            "10.244.3.3", "10.244.9.5", "10.244.8.5"]
V6_ADDRS = ["fd00:244:1::5", "fd00:244:2::7"]
UNREACHABLE = ["10.96.0.0/16", "fd00:96::/64"]
# Routed into svc0 and never answered: a SYN sent there times out (the dummy
# device drops what it sends; a veth peer in the namespace does not forward).
SILENT = "10.244.77.0/24"

# Echo servers: identity -> listen address.
SERVERS = {
    "v1-a": "10.244.1.5:9080",
    "v1-b": "10.244.1.6:9080",
    "v2-a": "10.244.2.7:9080",
    "v2-b": "10.244.2.8:9080",
    "v1-6": "[fd00:244:1::5]:9080",
    "v2-6": "[fd00:244:2::7]:9080",
    "shared": "10.244.3.3:9080",  # a backend that routes list under both versions
}
V1 = {"v1-a", "v1-b", "v1-6"}
V2 = {"v2-a", "v2-b", "v2-6"}


def version_of(ident):
    """The label a server identity stands for: v1-a -> v1, shared -> shared."""
    return ident.split("-")[0]

_live = []     # sandboxes not yet closed, for atexit
_created = []  # every sandbox opened by this process, for the leftover check


def _close_all():
    for sb in list(_live):
        try:
            sb.close()
        except Exception as e:  # never let one failure stop the rest
            print(f"steer-e2e: cleanup of {sb.name} failed: {e}", file=sys.stderr)


atexit.register(_close_all)


def _mounts():
    with open("/proc/mounts") as f:
        return [line.split() for line in f]


def cgroup2_mount():
    for m in _mounts():
        if m[2] == "cgroup2":
            return m[1]
    raise RuntimeError("no cgroup2 mount in /proc/mounts")


def ensure_bpffs():
    """Mount bpffs at /sys/fs/bpf if no bpf filesystem is mounted there.

    A mount we add is left in place: other users of the machine may start using it."""
    if any(m[2] == "bpf" and m[1] == BPFFS_ROOT for m in _mounts()):
        return
    os.makedirs(BPFFS_ROOT, exist_ok=True)
    subprocess.run(["mount", "-t", "bpf", "bpf", BPFFS_ROOT], check=True)


def run(cmd, check=True, **kw):
    return subprocess.run(cmd, check=check, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, **kw)


def rmtree_cgroup(path):
    """Remove a cgroup directory tree bottom-up (only directories can be removed).

    A cgroup whose last task has just exited can report EBUSY for a moment."""
    if not os.path.isdir(path):
        return
    for root, dirs, _files in os.walk(path, topdown=False):
        for d in dirs:
            _rmdir_retry(os.path.join(root, d))
    _rmdir_retry(path)


def _rmdir_retry(path, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as e:
            if e.errno != errno.EBUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def kill_pid(proc, sig=signal.SIGTERM, timeout=5.0):
    """Stop a process we started (a Popen), by its PID; escalate to SIGKILL."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, sig)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout)
    except ProcessLookupError:
        pass


class Sandbox:
    def __init__(self, suffix=None):
        if os.geteuid() != 0:
            raise PermissionError("the e2e sandbox needs root")
        self.suffix = suffix or secrets.token_hex(4)
        self.name = f"steer-e2e-{self.suffix}"
        self.netns = self.name
        self.netns_path = f"/run/netns/{self.netns}"
        self.cg_mount = cgroup2_mount()
        self.cgroup = os.path.join(self.cg_mount, self.name)
        self.pin_dir = os.path.join(BPFFS_ROOT, self.name)
        self.tmp = None
        self.server = None
        self.procs = []          # every Popen we started, for cleanup by PID
        self.closed = False
        self.svc0_kind = "dummy"
        self.closers = []        # extra cleanups (e.g. steerd), run first, LIFO

    # -- setup ---------------------------------------------------------------
    def open(self):
        _live.append(self)
        _created.append(self)
        try:
            self.tmp = tempfile.mkdtemp(prefix=self.name + "-")
            ensure_bpffs()
            self._netns()
            os.mkdir(self.cgroup)
            for child in ("clients", "testers", "blocked", "allowed"):
                self.make_cgroup(child)
        except BaseException:
            self.close()
            raise
        return self

    def _netns(self):
        ns = self.netns
        run(["ip", "netns", "add", ns])
        ipn = ["ip", "-n", ns]
        run(ipn + ["link", "set", "lo", "up"])
        # A dummy svc0; kernels built without the dummy driver get a veth pair whose
        # both ends stay inside the test namespace (svc0 <-> svc0p) instead.
        if run(ipn + ["link", "add", "svc0", "type", "dummy"], check=False).returncode:
            run(ipn + ["link", "add", "svc0", "type", "veth", "peer", "name", "svc0p"])
            run(ipn + ["link", "set", "svc0p", "up"])
            self.svc0_kind = "veth"
        run(ipn + ["link", "set", "svc0", "up"])
        for a in V4_ADDRS:
            run(ipn + ["addr", "add", f"{a}/32", "dev", "svc0"])
        for a in V6_ADDRS:
            run(ipn + ["-6", "addr", "add", f"{a}/128", "dev", "svc0", "nodad"])
        for r in UNREACHABLE:
            fam = "-6" if ":" in r else "-4"
            run(ipn + [fam, "route", "add", "unreachable", r])
        run(ipn + ["route", "add", SILENT, "dev", "svc0"])

    def make_cgroup(self, rel):
        path = os.path.join(self.cgroup, rel)
        os.makedirs(path, exist_ok=True)
        return path

    def cgroup_rel(self, rel=""):
        """Path of a test cgroup relative to the cgroup2 mount root (as route files want)."""
        return "/" + os.path.relpath(os.path.join(self.cgroup, rel), self.cg_mount).rstrip("/.")

    def nsenter(self, argv):
        return ["nsenter", f"--net={self.netns_path}"] + list(argv)

    # -- echo servers --------------------------------------------------------
    def start_servers(self, servers=SERVERS, timeout=10.0):
        args = [f"{addr}={ident}" for ident, addr in servers.items()]
        log = open(os.path.join(self.tmp, "echo_server.log"), "w")
        self.server = subprocess.Popen(
            self.nsenter([PYTHON, os.path.join(FIXTURES, "echo_server.py")] + args),
            stdout=subprocess.PIPE, stderr=log, text=True)
        log.close()
        self.procs.append(self.server)
        r, _, _ = select.select([self.server.stdout], [], [], timeout)
        line = self.server.stdout.readline() if r else ""
        if line.strip() != "READY":
            err = open(os.path.join(self.tmp, "echo_server.log")).read()
            raise RuntimeError(f"echo server not ready: {line!r} {err}")

    # -- teardown ------------------------------------------------------------
    def close(self):
        if self.closed:
            return
        self.closed = True
        errors = []
        for fn in reversed(self.closers):
            try:
                fn()
            except Exception as e:
                errors.append(f"closer: {e}")
        for p in self.procs:
            try:
                kill_pid(p)
            except Exception as e:
                errors.append(f"pid {p.pid}: {e}")
        if os.path.exists(self.netns_path):
            r = run(["ip", "netns", "del", self.netns], check=False)
            if r.returncode:
                errors.append(f"netns del: {r.stderr.strip()}")
        try:
            rmtree_cgroup(self.cgroup)
        except Exception as e:
            errors.append(f"cgroup: {e}")
        try:
            if os.path.lexists(self.pin_dir):
                shutil.rmtree(self.pin_dir)
        except Exception as e:
            errors.append(f"pins: {e}")
        if self.tmp and os.environ.get("STEER_E2E_KEEP_TMP") != "1":
            shutil.rmtree(self.tmp, ignore_errors=True)
        if self in _live:
            _live.remove(self)
        if errors:
            raise RuntimeError(f"{self.name} cleanup: " + "; ".join(errors))

    def netns_paths(self):
        return [self.netns_path]

    def leftovers(self):
        """What of this sandbox still exists (nothing, once it is closed)."""
        paths = self.netns_paths() + [self.cgroup, self.pin_dir]
        if os.environ.get("STEER_E2E_KEEP_TMP") != "1" and self.tmp:
            paths.append(self.tmp)
        return [p for p in paths if os.path.lexists(p)]

    def tracked_pids(self):
        """PIDs of the processes this sandbox started and still runs."""
        return {p.pid for p in self.procs if p.poll() is None}

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()
