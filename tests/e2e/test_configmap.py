# SPDX-License-Identifier: BSD-2-Clause
"""Routes mounted the Kubernetes ConfigMap way (configmap.py: kubelet's ..data
layout and swap): a split changed by a swap reaches real connections within 1 s
(docs/DESIGN.md §4), a key added is a route added, a key removed from the ConfigMap
is its route removed, and the other routes' connections never fail."""
import os
import time

import pytest

from configmap import ConfigMap
from sandbox import V1, V2
from steer import Steerctl
from test_steer import VIP4, assert_all, route, versions

pytestmark = pytest.mark.usefixtures("need_binaries")

RATINGS_VIP = "10.96.0.30:9080"


def ratings(split):
    return route(split, name="ratings", frontends=(RATINGS_VIP,))


def test_configmap_layout_is_followed(steerd, client):
    cm = ConfigMap(steerd.routes)
    cm.write({"reviews.yaml": route({"v1": 100, "v2": 0})})
    names = sorted(os.listdir(steerd.routes))
    assert names[0].startswith("..20") and names[1:] == ["..data", "reviews.yaml"], names
    assert os.readlink(os.path.join(steerd.routes, "reviews.yaml")) == \
        "..data/reviews.yaml"
    steerd.start()
    assert_all(client.run(VIP4, count=100), {"v1-a", "v1-b"}, 100)
    assert set(Steerctl(steerd.sb, steerd).status()) == {"reviews"}
    assert '"level":"warn"' not in steerd.log_since().replace(" ", ""), steerd.log_since()


def test_swap_applies_split_within_1s(steerd, client):
    cm = ConfigMap(steerd.routes)
    cm.write({"reviews.yaml": route({"v1": 100, "v2": 0})})
    steerd.start()
    load = client.start(VIP4, count=2000, interval_ms=2, duration_s=10, seq=True)
    # Swap once the client is connecting (its start-up is slow on a busy
    # machine): connections on both sides of the swap are the test.
    assert wait_until(lambda: connections(steerd) >= 50, 10), steerd.log_since()
    t_swap = time.time()
    cm.write({"reviews.yaml": route({"v1": 0, "v2": 100})})
    r = client.wait(load)
    assert r["errors"] == {}, r
    seq = r["seq"]
    before = [i for t, i in seq if t < t_swap]
    after = [i for t, i in seq if t > t_swap + 1.0]
    assert before and set(before) <= V1, before
    assert len(after) >= 50, f"too few connections after the swap: {len(after)}"
    assert set(after) <= V2, after
    first_v2 = min(t for t, i in seq if i in V2)
    assert first_v2 - t_swap < 1.0, first_v2 - t_swap
    # No connection after the first v2 one went back to v1: the change is whole.
    assert all(i in V2 for t, i in seq if t >= first_v2)
    assert len(os.listdir(steerd.routes)) == 3  # the old directory is gone


def connections(steerd):
    """Connections the route has steered so far (steerctl stats)."""
    st = Steerctl(steerd.sb, steerd).json("stats", "reviews")
    return sum(b["connections"] for rt in st["routes"] for v in rt["versions"]
               for b in v["backends"])


def wait_until(cond, timeout):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_key_added_and_removed_is_route_added_and_removed(steerd, client):
    cm = ConfigMap(steerd.routes)
    cm.write({"reviews.yaml": route({"v1": 50, "v2": 50})})
    steerd.start()
    ctl = Steerctl(steerd.sb, steerd)
    load = client.start(VIP4, count=3000, interval_ms=2, duration_s=10)

    t = time.monotonic()
    cm.write({"reviews.yaml": route({"v1": 50, "v2": 50}),
              "ratings.yaml": ratings({"v1": 0, "v2": 100})})
    assert wait_until(lambda: versions(client.run(RATINGS_VIP, count=5)) == (0, 5), 1.0)
    assert time.monotonic() - t < 1.5
    assert set(ctl.status()) == {"reviews", "ratings"}

    t = time.monotonic()
    cm.write({"reviews.yaml": route({"v1": 50, "v2": 50})})
    assert not os.path.lexists(os.path.join(steerd.routes, "ratings.yaml"))
    assert wait_until(lambda: client.run(RATINGS_VIP, count=2)["counts"] == {}, 1.0)
    assert time.monotonic() - t < 1.5
    r = client.run(RATINGS_VIP, count=5)
    assert set(r["errors"]) <= {"ENETUNREACH", "EHOSTUNREACH"}, r
    assert set(ctl.status()) == {"reviews"}

    r = client.wait(load)
    assert r["errors"] == {} and r["total"] >= 500, r
    v1, v2 = versions(r)
    assert v1 + v2 == r["total"] and v1 > 0 and v2 > 0, r
