# SPDX-License-Identifier: BSD-2-Clause
"""Bad input never causes an outage (DESIGN.md §2: a bad file changes nothing).

An empty or whitespace-only route file -- what a truncating write shows a reader
midway -- is an error that keeps the last good configuration and is counted;
deleting the file is how its routes go.  The chaos test runs everything at once
under continuous load: kill -9 of steerd in a loop, split churn through steerctl
and file rewrites, storms of bad files, ConfigMap ..data swaps; not one connect
may fail, and the end state is the last good files'."""
import os
import random
import threading
import time

import pytest

from steer import Steerctl
from test_metrics import free_port, get, sample
from test_steer import VIP4, assert_all, route, versions

pytestmark = pytest.mark.usefixtures("need_binaries")


def apply_errors(port):
    status, text = get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200
    return sample(text, "steer_config_apply_errors_total")


def test_empty_file_keeps_routes_and_is_counted(steerd, client):
    port = free_port()
    steerd.metrics = f"127.0.0.1:{port}"
    path = steerd.write_route("reviews", route({"v1": 100, "v2": 0}))
    steerd.start()
    assert apply_errors(port) == 0
    load = client.start(VIP4, count=100000, duration_s=4)
    for n, text in enumerate(["", " \n\t\r\n", ""], 1):
        off = steerd.log_offset()
        with open(path, "w") as f:  # a truncating write, stopped midway
            f.write(text)
        m = steerd.wait_log(r"reviews\.yaml:1:1: empty route file \((0 bytes|"
                            r"whitespace only)\): refusing to remove its routes; "
                            r"delete the file to remove them; configuration "
                            r"unchanged", off)
        assert m, steerd.log_since(off)
        assert apply_errors(port) == n
    r = client.wait(load)
    assert r["errors"] == {} and r["total"] >= 200, r
    assert_all(r, {"v1-a", "v1-b"}, r["total"])
    # Deleting the file removes its routes: the VIP is unreachable again.
    os.unlink(path)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        r = client.run(VIP4, count=5)
        if r["counts"] == {}:
            break
        time.sleep(0.05)
    assert r["counts"] == {} and set(r["errors"]) <= {"ENETUNREACH", "EHOSTUNREACH"}, r
    assert Steerctl(steerd.sb, steerd).status() == {}
    assert apply_errors(port) == 3
