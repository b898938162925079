# SPDX-License-Identifier: BSD-2-Clause
"""Fixtures for the steer end-to-end tests (real kernel, real sockets).

Needs root.  Everything runs in a sandbox of its own (sandbox.py): a network
namespace, a cgroup, a pin dir and a temp dir, all removed on every exit path.
Tests that need build/steerd or build/steerctl are skipped while the binaries are
missing -- except under CI=true, where a missing binary fails the test.
"""
import os
import signal
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import procs  # noqa: E402
import sandbox as sandbox_mod  # noqa: E402
from sandbox import Sandbox  # noqa: E402
from steer import Client, Steerd, binaries_missing  # noqa: E402


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


# SIGTERM (e.g. a CI timeout) unwinds like ^C, so fixture finalizers and atexit run.
if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
    signal.signal(signal.SIGTERM, _raise_interrupt)


def in_ci():
    return os.environ.get("CI", "").lower() == "true"


def skip_or_fail(reason):
    if in_ci():
        pytest.fail(f"{reason} (CI=true: not skipping)")
    pytest.skip(reason)


def _tracked():
    return set().union(*(sb.tracked_pids() for sb in list(sandbox_mod._live)))


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind():
    """After the whole run: no process any test started is alive (servers,
    steerd, clients, orphans of them: procs.py), and no namespace, cgroup, pin
    directory or temp directory of a sandbox is left. Set up before every other
    fixture, so it checks after all of them are torn down."""
    if os.geteuid() == 0:
        procs.become_subreaper()
    before = set(procs.live_children())
    yield
    for sb in list(sandbox_mod._live):  # a sandbox no fixture closed
        sb.close()
    left = procs.wait_gone(set(procs.live_children()) - before, timeout=3)
    procs.kill_and_reap(left)
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
    before = set(procs.live_children())
    yield
    new = set(procs.live_children()) - before - _tracked()
    left = procs.wait_gone(new)
    left = {p: c for p, c in left.items() if p not in _tracked()}
    if left:
        procs.kill_and_reap(left)
        pytest.fail("processes left running (killed now): " + "; ".join(
            f"{pid}: {cmd}" for pid, cmd in left.items()))


@pytest.fixture(scope="session")
def sandbox():
    if os.geteuid() != 0:
        skip_or_fail("e2e tests need root")
    sb = Sandbox().open()
    try:
        sb.start_servers()
        yield sb
    finally:
        sb.close()


@pytest.fixture
def client(sandbox):
    return Client(sandbox)


def _need_binaries():
    missing = binaries_missing()
    if missing:
        skip_or_fail("not built yet: " + ", ".join(missing) + " (run make)")


@pytest.fixture
def need_binaries():
    _need_binaries()


def _steerd(sandbox):
    d = Steerd(sandbox)
    sandbox.closers.append(d.cleanup)
    try:
        yield d
    finally:
        try:
            d.cleanup()
        finally:
            assert not os.path.exists(sandbox.pin_dir), "pin dir left behind"


@pytest.fixture
def steerd(sandbox, need_binaries):
    """A steerd for this test (not started: write routes, then call .start())."""
    yield from _steerd(sandbox)


@pytest.fixture(scope="module")
def module_steerd(sandbox):
    """One steerd shared by every test of a module (not started), for modules whose
    tests put the state back themselves.  Both fixtures use the sandbox's one pin dir:
    a module uses either this or `steerd`, never both."""
    _need_binaries()
    yield from _steerd(sandbox)


@pytest.fixture
def cg(sandbox):
    """Route-file form of a test cgroup path: cg('testers') -> /steer-e2e-X/testers."""
    return sandbox.cgroup_rel
