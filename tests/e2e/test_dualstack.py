# SPDX-License-Identifier: BSD-2-Clause
"""A dual-stack IPv6 socket that dials an IPv4 frontend as ::ffff:VIP (Java, Go and
others do) is steered like an IPv4 client, and getpeername() shows ::ffff:VIP."""
import pytest

from test_steer import assert_all, route

pytestmark = pytest.mark.usefixtures("need_binaries")

MAPPED_VIP = "[::ffff:10.96.0.20]:9080"


def test_v4_mapped_frontend_is_steered(steerd, client):
    steerd.write_route("reviews", route({"v1": 0, "v2": 100}))
    steerd.start()
    r = client.run(MAPPED_VIP, count=100)
    assert_all(r, {"v2-a", "v2-b"}, 100)
    assert r["peernames"] == [MAPPED_VIP], r


def test_v4_mapped_non_frontend_untouched(steerd, client):
    steerd.write_route("reviews", route({"v1": 0, "v2": 100}))
    steerd.start()
    r = client.run("[::ffff:10.244.1.5]:9080", count=10)
    assert r["counts"] == {"v1-a": 10} and r["errors"] == {}, r
