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

# The no-process-left-behind checks (autouse).
from procs import no_process_left_behind, no_stray_process  # noqa: E402,F401
from sandbox import Sandbox  # noqa: E402
from steer import Client, Steerd, binaries_missing  # noqa: E402
from summary import print_summary  # noqa: E402


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


def pytest_unconfigure(config):
    print_summary(config, "e2e")
