# SPDX-License-Identifier: BSD-2-Clause
"""No connection ever sees half of a change (docs/DESIGN.md §3).

Two configurations that share no (version, backend) outcome: A sends everything to v1
on backend v1-a, B sends everything to v2 on backend v2-b. A connection that read A's
split with B's backends would land on v1-b; B's split with A's backends, on v2-a. The
file flips between A and B continuously while clients connect: every connection must
land on v1-a or v2-b, and none may fail."""
import time

import pytest

pytestmark = pytest.mark.usefixtures("need_binaries")


def config(split, v1_backend, v2_backend):
    return ("kind: Route\n"
            "name: reviews\n"
            "frontends: [10.96.0.20:9080]\n"
            "versions:\n"
            f"  v1: {{backends: [{v1_backend}]}}\n"
            f"  v2: {{backends: [{v2_backend}]}}\n"
            "rules:\n"
            "  - name: default\n"
            f"    split: {split}\n")


A = config("{v1: 100, v2: 0}", "10.244.1.5:9080", "10.244.2.7:9080")  # -> v1-a
B = config("{v1: 0, v2: 100}", "10.244.1.6:9080", "10.244.2.8:9080")  # -> v2-b


def test_flipping_configs_never_mix(steerd, client):
    steerd.write_route("reviews", A)
    steerd.start()
    procs = [client.start("10.96.0.20:9080", count=3000, interval_ms=1, duration_s=20)
             for _ in range(2)]
    for i in range(16):
        off = steerd.log_offset()
        steerd.write_route("reviews", B if i % 2 == 0 else A)
        # Each flip applied before the next: a loaded machine must not merge
        # two flips into one apply (the test would then see fewer changes).
        assert steerd.wait_log(r"1 published", off, timeout=5.0), steerd.log_since(off)
        time.sleep(0.05)  # connections under this configuration
    results = [client.wait(p) for p in procs]
    seen = {}
    for r in results:
        assert r["errors"] == {}, r
        for ident, n in r["counts"].items():
            seen[ident] = seen.get(ident, 0) + n
    assert set(seen) <= {"v1-a", "v2-b"}, f"torn configuration observed: {seen}"
    assert seen.get("v1-a") and seen.get("v2-b"), f"both configs must be seen: {seen}"
    assert steerd.log_since().count("1 published") >= 16, "steerd did not apply the flips"


def test_directory_that_keeps_changing_is_still_applied(steerd):
    """steerd debounces a burst of writes from its first event, so a directory
    that changes every 40 ms is applied about every 100 ms, not starved until the
    writes stop."""
    steerd.write_route("reviews", A)
    steerd.start()
    off = steerd.log_offset()
    end = time.monotonic() + 1.2
    i = 0
    while time.monotonic() < end:
        steerd.write_route("reviews", B if i % 2 == 0 else A)
        i += 1
        time.sleep(0.04)
    applies = steerd.log_since(off).count("routes directory changed")
    assert applies >= 5, f"only {applies} applies during a 1.2 s burst"
