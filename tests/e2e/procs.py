# SPDX-License-Identifier: BSD-2-Clause
"""No process left behind: the test run is a child subreaper (prctl
PR_SET_CHILD_SUBREAPER), so every process a test starts stays its descendant
even when the process that started it dies (an echo server whose shell was
killed, a daemon that forked): an orphan is reparented to pytest, not to init,
and shows up among pytest's children.  The two autouse fixtures below check
them after every test and at the end of the session; a conftest.py uses them
by importing them (tests/e2e, tests/upgrade)."""
import ctypes
import os
import signal
import time

import pytest

import sandbox as sandbox_mod

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0):
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def _stat(pid):
    """(state, ppid) of PID, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    return rest[0], int(rest[1])


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def live_children(parent=None):
    """{pid: cmdline} of PARENT's (default: this process's) children that have
    not exited (zombies are dead: only their exit status is left)."""
    parent = parent or os.getpid()
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        st = _stat(d)
        if st and st[1] == parent and st[0] != "Z":
            out[int(d)] = cmdline(d)
    return out


def wait_gone(pids, timeout=2.0):
    """Of PIDS (children of this process), those still alive after TIMEOUT, with
    their command lines: a process being stopped gets a moment to go."""
    deadline = time.monotonic() + timeout
    while True:
        alive = live_children()
        left = {p: alive[p] for p in pids if p in alive}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def kill_and_reap(pids):
    """SIGKILL our own leftover children, by PID, and reap them."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
    for pid in pids:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


def _tracked():
    return set().union(*(sb.tracked_pids() for sb in list(sandbox_mod._live)))


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind():
    """After the whole run: no process any test started is alive (servers,
    steerd, clients, orphans of them), and no namespace, cgroup, pin
    directory or temp directory of a sandbox is left. Set up before every other
    fixture, so it checks after all of them are torn down."""
    if os.geteuid() == 0:
        become_subreaper()
    before = set(live_children())
    yield
    for sb in list(sandbox_mod._live):  # a sandbox no fixture closed
        sb.close()
    left = wait_gone(set(live_children()) - before, timeout=3)
    kill_and_reap(left)
    problems = [f"process {pid} left running: {cmd}" for pid, cmd in left.items()]
    for sb in sandbox_mod._created:
        problems += [f"{sb.name}: {p} left behind" for p in sb.leftovers()]
    assert not problems, "\n".join(problems)


@pytest.fixture(autouse=True)
def no_stray_process():
    """After each test: every process it started is stopped, except those a
    sandbox tracks for later tests (the servers, a module's steerd). An orphan
    (reparented to this subreaper) is never tracked: it fails the test that
    left it, and is killed."""
    before = set(live_children())
    yield
    new = set(live_children()) - before - _tracked()
    left = wait_gone(new)
    left = {p: c for p, c in left.items() if p not in _tracked()}
    if left:
        kill_and_reap(left)
        pytest.fail("processes left running (killed now): " + "; ".join(
            f"{pid}: {cmd}" for pid, cmd in left.items()))
