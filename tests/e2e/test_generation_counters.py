# SPDX-License-Identifier: BSD-2-Clause
"""Generations only grow, whoever publishes (steerd or steerctl); per-rule counters
follow rule names when a file inserts a rule in front."""
import json
import time

import pytest

from steer import steerctl
from test_steer import VIP4, route, versions

pytestmark = pytest.mark.usefixtures("need_binaries")


def status(sb):
    p = steerctl("--bpffs", sb.pin_dir, "-o", "json", "status")
    assert p.returncode == 0, p.stderr
    return {r["name"]: r for r in json.loads(p.stdout)["routes"]}


def wait_generation_above(sb, gen, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = status(sb)["reviews"]
        if st["generation"] > gen:
            return st
        time.sleep(0.05)
    raise AssertionError(f"generation stayed at {gen}")


def test_generation_grows_across_steerctl_and_steerd(steerd, sandbox):
    steerd.write_route("reviews", route({"v1": 100, "v2": 0}))
    steerd.start()
    g1 = status(sandbox)["reviews"]["generation"]
    for pct in (5, 25, 50):
        p = steerctl("--bpffs", sandbox.pin_dir, "set", "reviews",
                     f"v1={100 - pct}", f"v2={pct}")
        assert p.returncode == 0, p.stderr
    g2 = status(sandbox)["reviews"]["generation"]
    assert g2 == g1 + 3
    steerd.write_route("reviews", route({"v1": 90, "v2": 10}))
    st = wait_generation_above(sandbox, g2)
    assert st["generation"] == g2 + 1 and st["override"] is False


def test_counters_follow_rule_names(steerd, sandbox, client):
    steerd.write_route("reviews", route({"v1": 100, "v2": 0}))
    steerd.start()
    v1, _ = versions(client.run(VIP4, count=40))
    assert v1 == 40
    default = status(sandbox)["reviews"]["rules"][0]
    assert default["name"] == "default" and default["connections"]["v1"] == 40
    g = status(sandbox)["reviews"]["generation"]

    rules = ("  - name: testers\n    match: {uids: [1001]}\n    split: {v2: 100}\n"
             "  - name: default\n    split: {v1: 100, v2: 0}\n")
    steerd.write_route("reviews", route(rules=rules))
    st = wait_generation_above(sandbox, g)
    testers = next(r for r in st["rules"] if r["name"] == "testers")
    assert testers["connections"] == {"v1": 0, "v2": 0}, st["rules"]
