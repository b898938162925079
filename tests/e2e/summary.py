# SPDX-License-Identifier: BSD-2-Clause
"""The line every steer test runner ends with: "RUNNER: N passed, N failed"."""


def print_summary(config, runner):
    """From pytest_unconfigure: after pytest's own summary, so it is last."""
    tr = config.pluginmanager.get_plugin("terminalreporter")
    if tr is None:
        return
    failed = len(tr.stats.get("failed", [])) + len(tr.stats.get("error", []))
    print(f"{runner}: {len(tr.stats.get('passed', []))} passed, {failed} failed")
