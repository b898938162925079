# SPDX-License-Identifier: BSD-2-Clause
"""A reload looks only at what changed (docs/architecture.md, "Reloads"): in a
file of many routes, a change to one publishes that one and the others keep
serving; a steerctl override made between two reloads is still honoured (the
apply after it compares everything); a file that cannot be split into
documents keeps every route across reloads.

Run: /usr/bin/python3 -m pytest -q tests/e2e/test_reload.py   (as root)
"""
import pytest

from steer import Steerctl
from test_steer import VIP4, VIP_OTHER, assert_all, route

pytestmark = pytest.mark.usefixtures("need_binaries")

VIP_THIRD = "10.96.0.40:9080"
V1_ONLY = {"v1": 100, "v2": 0}
V2_ONLY = {"v1": 0, "v2": 100}
V1_BACKENDS = {"v1-a", "v1-b"}
V2_BACKENDS = {"v2-a", "v2-b"}


def three(b_split, sep="---\n"):
    """Routes a, b and c in one file, b with split B_SPLIT."""
    return (route(V1_ONLY, name="a", frontends=(VIP4,)) + sep
            + route(b_split, name="b", frontends=(VIP_OTHER,)) + sep
            + route(V1_ONLY, name="c", frontends=(VIP_THIRD,)))


def applied(steerd, off, what):
    m = steerd.wait_log(r"applied 3 routes [^;]*: " + what, off, timeout=10)
    assert m, steerd.log_since(off)


def test_one_route_changed_publishes_that_route(steerd, client):
    steerd.write_route("all", three(V1_ONLY))
    steerd.start()
    off = steerd.log_offset()
    steerd.write_route("all", three(V2_ONLY))
    applied(steerd, off, "1 published, 2 unchanged, 0 overridden by steerctl, 0 removed")
    assert_all(client.run(VIP_OTHER, count=50), V2_BACKENDS, 50)
    for vip in (VIP4, VIP_THIRD):
        assert_all(client.run(vip, count=50), V1_BACKENDS, 50)


def test_override_between_reloads_is_kept(steerd, sandbox, client):
    steerd.write_route("all", three(V1_ONLY))
    steerd.start()
    Steerctl(sandbox, steerd).run("set", "a", "v1=0", "v2=100", check=True)
    off = steerd.log_offset()
    steerd.write_route("all", three(V2_ONLY))
    applied(steerd, off, "1 published, 1 unchanged, 1 overridden by steerctl, 0 removed")
    assert_all(client.run(VIP4, count=50), V2_BACKENDS, 50)
    assert_all(client.run(VIP_OTHER, count=50), V2_BACKENDS, 50)
    assert_all(client.run(VIP_THIRD, count=50), V1_BACKENDS, 50)


def test_route_removed_from_a_file_goes(steerd, client):
    steerd.write_route("all", three(V1_ONLY))
    steerd.start()
    off = steerd.log_offset()
    text = three(V1_ONLY)
    steerd.write_route("all", text[:text.index("---\nkind: Route\nname: c")])
    m = steerd.wait_log(r"applied 2 routes [^;]*: 0 published, 2 unchanged, "
                        r"0 overridden by steerctl, 1 removed", off, timeout=10)
    assert m, steerd.log_since(off)
    r = client.run(VIP_THIRD, count=5)
    assert r["counts"] == {}, r
    assert_all(client.run(VIP4, count=20), V1_BACKENDS, 20)


def test_unsplit_file_keeps_every_route(steerd, client):
    """'...' ends a document: such a file is read as one piece. Reloading it
    unchanged must keep all three routes, not the first one only."""
    text = three(V1_ONLY, sep="...\n---\n")
    steerd.write_route("all", text)
    steerd.start()
    off = steerd.log_offset()
    steerd.reload()
    applied(steerd, off, "0 published, 3 unchanged")
    for vip in (VIP4, VIP_OTHER, VIP_THIRD):
        assert_all(client.run(vip, count=20), V1_BACKENDS, 20)
