# SPDX-License-Identifier: BSD-2-Clause
"""The upgrade test reuses the e2e sandbox and helpers (tests/e2e/sandbox.py,
steer.py) by import.  What a test measured goes through the `report` fixture
and is printed after the run, before pytest's summary line."""
import os
import signal
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))

# No process left behind, as in the e2e tests (autouse).
from procs import no_process_left_behind, no_stray_process  # noqa: E402,F401
from summary import print_summary  # noqa: E402


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


# SIGTERM (e.g. a CI timeout) unwinds like ^C, so finalizers and atexit run.
if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
    signal.signal(signal.SIGTERM, _raise_interrupt)


def _lines(config):
    return config.__dict__.setdefault("_steer_upgrade_report", [])


@pytest.fixture
def report(request):
    """report(line): print LINE in the run's "upgrade figures" section."""
    lines = _lines(request.config)
    return lines.append


def pytest_terminal_summary(terminalreporter, config):
    if _lines(config):
        terminalreporter.section("upgrade figures")
        for line in _lines(config):
            terminalreporter.write_line(line)



def pytest_unconfigure(config):
    print_summary(config, "upgrade")
