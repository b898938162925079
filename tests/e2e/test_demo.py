# SPDX-License-Identifier: BSD-2-Clause
"""tools/demo.sh, the README's first command, as a test: it passes, and on every
exit path (the end, SIGTERM or SIGINT midway) it leaves nothing behind: no process
(its servers, steerd and clients are stopped by PID; an orphan would be reparented
to this run and fail the test, see procs.py), no network namespace, cgroup, pin
directory or temp directory."""
import glob
import os
import select
import signal
import subprocess
import time

import pytest

import procs
from sandbox import REPO, cgroup2_mount
from steer import BUILD

DEMO = os.path.join(REPO, "tools", "demo.sh")

pytestmark = [
    pytest.mark.usefixtures("need_binaries"),
    pytest.mark.skipif(os.path.realpath(BUILD) != os.path.join(REPO, "build"),
                       reason="the demo runs the binaries of REPO/build"),
]


def start_demo():
    if os.geteuid() != 0:
        pytest.skip("the demo needs root")
    env = dict(os.environ, DEMO_CONNS="20")
    # A run started in the background of a shell without job control (nohup
    # make test &) inherits SIGINT ignored, and a shell cannot trap a signal
    # ignored on entry: the demo starts with SIGINT's default, as from a
    # terminal.
    return subprocess.Popen([DEMO], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=True, env=env, cwd="/",
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def leftovers(pid):
    """What of demo PID's sandbox still exists: paths, and processes naming it."""
    name = f"steer-demo-{pid}"
    paths = [f"/run/netns/{name}", os.path.join(cgroup2_mount(), name),
             f"/sys/fs/bpf/{name}"] + glob.glob(f"/tmp/{name}.*")
    left = [p for p in paths if os.path.lexists(p)]
    for d in os.listdir("/proc"):
        if d.isdigit() and name in procs.cmdline(d):
            left.append(f"process {d}: {procs.cmdline(d)}")
    return left


def test_demo_passes_and_leaves_nothing():
    p = start_demo()
    out, _ = p.communicate(timeout=180)
    assert p.returncode == 0, out
    assert "== done: deployed, tested in production, released" in out, out
    assert out.rstrip().endswith("demo: sandbox removed"), out
    assert "Connection refused" not in out and "timed out" not in out, out
    assert leftovers(p.pid) == []


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_demo_stopped_midway_leaves_nothing(sig, code):
    """Stopped while its clients run (step 3): the trap stops them, steerd and
    the servers, and removes the sandbox."""
    p = start_demo()
    out, deadline = "", time.monotonic() + 120
    try:
        while "connections from testers" not in out:
            assert time.monotonic() < deadline, out
            r, _, _ = select.select([p.stdout], [], [], 1)
            line = p.stdout.readline() if r else ""
            assert line or p.poll() is None, out
            out += line
        os.kill(p.pid, sig)
        rest, _ = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    out += rest
    assert p.returncode == code, out
    assert out.rstrip().endswith(f"demo: failed (exit {code}); sandbox removed"), out
    assert leftovers(p.pid) == []
