# SPDX-License-Identifier: BSD-2-Clause
"""Helpers that drive build/steerd, build/steerctl and the probe client
(tests/e2e/steer_probe.py, shared with tools/demo.sh)."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from sandbox import FIXTURES, PYTHON, REPO, kill_pid, version_of

# STEER_E2E_BUILD points the tests at another build directory (default: REPO/build).
BUILD = os.environ.get("STEER_E2E_BUILD") or os.path.join(REPO, "build")
STEERD = os.path.join(BUILD, "steerd")
STEERCTL = os.path.join(BUILD, "steerctl")


def binaries_missing():
    return [b for b in (STEERD, STEERCTL) if not os.access(b, os.X_OK)]


class Client:
    """Runs tests/e2e/steer_probe.py inside the sandbox netns."""

    def __init__(self, sb):
        self.sb = sb

    def argv(self, target, count=1, cgroup="clients", uid=None, bind=None,
             interval_ms=0, duration_s=30, cgroups_many=0, seq=False, timeout_s=None):
        argv = [PYTHON, os.path.join(FIXTURES, "steer_probe.py"),
                "--cgroup", self.sb.make_cgroup(cgroup), "--count", str(count),
                "--interval-ms", str(interval_ms), "--duration-s", str(duration_s)]
        if uid is not None:
            argv += ["--uid", str(uid)]
        if bind:
            argv += ["--bind", bind]
        if cgroups_many:
            argv += ["--cgroups-many", str(cgroups_many)]
        if seq:
            argv += ["--seq"]
        if timeout_s is not None:
            argv += ["--timeout-s", str(timeout_s)]
        return self.sb.nsenter(argv + [target])

    def run(self, target, timeout=60, **kw):
        p = subprocess.run(self.argv(target, **kw), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError(f"client failed ({p.returncode}): {p.stderr}")
        return json.loads(p.stdout)

    def observe(self, target, count=1, cgroup="clients", **kw):
        """run(), plus "versions": {version label: n} (v1-a, v1-b, v1-6 count as v1)."""
        r = self.run(target, count=count, cgroup=cgroup, **kw)
        r["versions"] = {}
        for ident, n in r["counts"].items():
            v = version_of(ident)
            r["versions"][v] = r["versions"].get(v, 0) + n
        return r

    def start(self, target, **kw):
        """Background client; finish with wait(proc)."""
        p = subprocess.Popen(self.argv(target, **kw), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.sb.procs.append(p)
        return p

    @staticmethod
    def wait(p, timeout=60):
        out, err = p.communicate(timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError(f"client failed ({p.returncode}): {err}")
        return json.loads(out)


class Steerd:
    """One steerd for one sandbox: own routes dir, pin dir and test cgroup.

    Assumed interface (docs/DESIGN.md §4): `steerd --routes DIR --bpffs PIN --cgroup CG
    --metrics off --log-format json`, one JSON object per log line with a "msg"
    field; a line whose msg starts with "ready" once the routes are applied.
    `steerd --bpffs PIN --cgroup CG --cleanup` detaches and unpins."""

    def __init__(self, sb, binary=None):
        self.sb = sb
        self.binary = binary or [STEERD]
        self.routes = tempfile.mkdtemp(prefix="routes-", dir=sb.tmp)
        self.log_path = os.path.join(self.routes + ".steerd.log")
        self.proc = None
        self.cleaned = False
        self.metrics = "off"  # or "127.0.0.1:PORT" (host loopback only)

    # -- route files -----------------------------------------------------------
    def route_path(self, name):
        return os.path.join(self.routes, f"{name}.yaml")

    def write_route(self, name, yaml_text, atomic=True):
        """Write ROUTES/name.yaml; by default via rename so steerd never sees half a file."""
        path = self.route_path(name)
        if atomic:
            tmp = os.path.join(self.routes, f".{name}.tmp")
            with open(tmp, "w") as f:
                f.write(yaml_text)
            os.rename(tmp, path)
        else:
            with open(path, "w") as f:
                f.write(yaml_text)
        return path

    # -- process ---------------------------------------------------------------
    def argv(self):
        return self.binary + ["--routes", self.routes, "--bpffs", self.sb.pin_dir,
                "--cgroup", self.sb.cgroup, "--metrics", self.metrics, "--log-format", "json"]

    def log_offset(self):
        try:
            return os.path.getsize(self.log_path)
        except FileNotFoundError:
            return 0

    def log_since(self, offset=0):
        try:
            with open(self.log_path, errors="replace") as f:
                f.seek(offset)
                return f.read()
        except FileNotFoundError:
            return ""

    def spawn(self):
        """Start steerd without waiting; returns the log offset it starts at."""
        assert self.proc is None or self.proc.poll() is not None
        off = self.log_offset()
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen(self.argv(), stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        log.close()
        self.sb.procs.append(self.proc)
        self.cleaned = False
        return off

    def start(self, timeout=15.0):
        self.wait_ready(self.spawn(), timeout)
        return self

    def wait_ready(self, offset, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready_in(self.log_since(offset)):
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"steerd exited with {self.proc.returncode}:\n"
                                   + self.log_since(offset))
            time.sleep(0.02)
        raise RuntimeError(f"steerd not ready after {timeout}s:\n" + self.log_since(offset))

    @staticmethod
    def ready_in(text):
        for line in text.splitlines():
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if isinstance(doc, dict) and str(doc.get("msg", "")).startswith("ready"):
                return True
        return False

    def write_routes(self, routes):
        """Write several route files at once: {name: yaml text}."""
        return [self.write_route(name, text) for name, text in routes.items()]

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)

    def reload(self):
        os.kill(self.proc.pid, signal.SIGHUP)

    def stop(self):
        kill_pid(self.proc, signal.SIGTERM, timeout=10)

    def wait_log(self, pattern, offset=0, timeout=5.0):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = rx.search(self.log_since(offset))
            if m:
                return m
            time.sleep(0.05)
        return None

    def cleanup(self):
        """Stop, detach and unpin; leaves no pin dir behind."""
        if self.cleaned:
            return
        self.cleaned = True
        errors = []
        try:
            self.stop()
        except Exception as e:
            errors.append(f"stop: {e}")
        if os.path.exists(self.binary[-1]) and os.path.exists(self.sb.pin_dir):
            r = subprocess.run(self.binary + ["--bpffs", self.sb.pin_dir, "--cgroup",
                                self.sb.cgroup, "--cleanup"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, timeout=30)
            if r.returncode:
                errors.append(f"steerd --cleanup: {r.returncode}: {r.stdout.strip()}")
        if os.path.lexists(self.sb.pin_dir):
            shutil.rmtree(self.sb.pin_dir, ignore_errors=True)
        if errors:
            raise RuntimeError("; ".join(errors))


def steerctl(*args, timeout=30):
    return subprocess.run([STEERCTL] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=timeout)


class Steerctl:
    """build/steerctl against one sandbox's pin dir (steerd: for its log in failures)."""

    def __init__(self, sb, steerd=None):
        self.sb = sb
        self.steerd = steerd

    def run(self, *args, json_out=False, check=False):
        argv = ["--bpffs", self.sb.pin_dir] + (["-o", "json"] if json_out else [])
        p = steerctl(*argv, *args)
        if check and p.returncode:
            raise AssertionError(f"steerctl {' '.join(args)}: exit {p.returncode}: "
                                 f"{p.stderr.strip()}")
        return p

    def json(self, *args):
        """-o json output of a command that must succeed."""
        return json.loads(self.run(*args, json_out=True, check=True).stdout)

    def status(self):
        """{route name: route} from `steerctl -o json status`."""
        return {r["name"]: r for r in self.json("status")["routes"]}

    def wait_status(self, until, timeout=5.0):
        """Poll status() until until(status) holds; return that status."""
        deadline = time.monotonic() + timeout
        while True:
            st = self.status()
            if until(st):
                return st
            if time.monotonic() > deadline:
                log = self.steerd.log_since()[-4000:] if self.steerd else ""
                raise AssertionError(f"timed out; status: {json.dumps(st)}\n"
                                     f"steerd log:\n{log}")
            time.sleep(0.05)


def bpftool(*args):
    return subprocess.run(["bpftool"] + list(args), check=True, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=30).stdout


def map_snapshot(pin_dir):
    """The routes map and every inner map it points at, as bpftool dumps them, plus the
    frontends map: equal snapshots mean the kernel state did not change (inner maps are
    frozen: same id, same bytes)."""
    maps = os.path.join(pin_dir, "maps")
    outer = json.loads(bpftool("-j", "map", "dump", "pinned",
                               os.path.join(maps, "steer_routes_v2")))
    snap = {"outer": outer, "inner": {},
            "frontends": json.loads(bpftool("-j", "map", "dump", "pinned",
                                            os.path.join(maps, "steer_frontends_v2")))}
    for e in outer:
        inner_id = e.get("inner_map_id")
        if inner_id is None:
            inner_id = int.from_bytes(bytes(int(x, 16) for x in e["value"]), sys.byteorder)
        snap["inner"][inner_id] = bpftool("map", "dump", "id", str(inner_id))
    return snap
