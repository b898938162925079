# SPDX-License-Identifier: BSD-2-Clause
"""steerd's /metrics, /healthz and /readyz on host loopback: the counters equal the
connections the clients really made."""
import re
import socket
import urllib.error
import urllib.request

import pytest

from test_steer import VIP4, route, versions

pytestmark = pytest.mark.usefixtures("need_binaries")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def sample(text, name, **labels):
    """Value of the one sample of NAME whose labels include LABELS."""
    hits = []
    for line in text.splitlines():
        m = re.match(r"^(\w+)(?:\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            hits.append(float(m.group(3)))
    assert len(hits) == 1, (name, labels, hits)
    return hits[0]


def test_metrics_count_real_connections(steerd, client):
    port = free_port()
    steerd.metrics = f"127.0.0.1:{port}"
    steerd.write_route("reviews", route({"v1": 70, "v2": 30}))
    steerd.start()
    base = f"http://127.0.0.1:{port}"
    assert get(base + "/healthz")[0] == 200
    assert get(base + "/readyz")[0] == 200
    assert get(base + "/nope")[0] == 404

    r = client.run(VIP4, count=300)
    v1, v2 = versions(r)
    assert r["errors"] == {} and v1 + v2 == 300, r

    status, text = get(base + "/metrics")
    assert status == 200
    for fam in ("steer_route_connections_total", "steer_route_split_ratio",
                "steer_route_policy_denials_total", "steer_route_no_route_total",
                "steer_config_generation", "steer_verdicts_total"):
        assert f"# TYPE {fam} " in text, fam
    lab = dict(route="reviews", rule="default", layer="sock")
    assert sample(text, "steer_route_connections_total", version="v1", **lab) == v1
    assert sample(text, "steer_route_connections_total", version="v2", **lab) == v2
    assert sample(text, "steer_route_split_ratio", route="reviews", rule="default",
                  version="v2") == 0.3
    assert sample(text, "steer_config_generation") >= 1
    assert sample(text, "steer_config_apply_errors_total") == 0
    assert sample(text, "steer_verdicts_total", reason="steered") == 300


def test_metrics_bad_listen_address_changes_nothing(steerd):
    steerd.metrics = "not-an-address"
    steerd.write_route("reviews", route({"v1": 100}))
    with pytest.raises(RuntimeError, match="--metrics"):
        steerd.start(timeout=5)
    assert steerd.proc.returncode == 1
