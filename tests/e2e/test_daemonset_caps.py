# SPDX-License-Identifier: BSD-2-Clause
"""deploy/daemonset.yaml's least privilege, held to a real kernel: steerd and
steerctl run with exactly the capabilities the DaemonSet grants (setpriv
--bounding-set, as a container runtime sets them) and steer real connections,
serve the probes the DaemonSet names, take the pinned state over on a restart
and change a split; without SYS_ADMIN a restart that must publish a changed
route over a live one fails, which is why the DaemonSet asks for it."""
import subprocess

import pytest

import deploy_files as df
from steer import STEERCTL, STEERD
from test_metrics import free_port, get
from test_steer import VIP4, route, versions

pytestmark = pytest.mark.usefixtures("need_binaries")


def daemonset():
    docs = list(df.yaml.safe_load_all(open(df.os.path.join(df.DEPLOY, "daemonset.yaml"))))
    return next(d for d in docs if d["kind"] == "DaemonSet")


def container():
    return daemonset()["spec"]["template"]["spec"]["containers"][0]


def with_caps(caps, argv):
    bset = ",".join(["-all"] + ["+" + c.lower() for c in caps])
    return ["setpriv", f"--bounding-set={bset}", "--inh-caps=-all"] + argv


def test_steerd_runs_with_the_daemonsets_capabilities(sandbox, steerd, client):
    sc = container()["securityContext"]
    caps = sc["capabilities"]["add"]
    assert sc["capabilities"]["drop"] == ["ALL"] and not sc.get("privileged")
    port = free_port()
    steerd.binary = with_caps(caps, [STEERD])
    steerd.metrics = f"127.0.0.1:{port}"
    steerd.write_route("reviews", route({"v1": 70, "v2": 30}))
    steerd.start()
    c = container()
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        path = c[probe]["httpGet"]["path"]
        assert get(f"http://127.0.0.1:{port}{path}")[0] == 200, probe
    v1, v2 = versions(client.run(VIP4, count=100))
    assert v1 + v2 == 100 and v2 > 10, (v1, v2)

    # a restart takes the pinned state over (reads the live inner maps by id)
    steerd.stop()
    steerd.start()
    p = subprocess.run(with_caps(caps, [STEERCTL, "--bpffs", sandbox.pin_dir, "set",
                                        "reviews", "v1=0", "v2=100"]),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert p.returncode == 0, p.stdout
    v1, v2 = versions(client.run(VIP4, count=20))
    assert (v1, v2) == (0, 20)
    steerd.stop()

    # without SYS_ADMIN: a start that finds its routes unchanged takes the pins
    # over (it reads only the route index), but one that must publish a changed
    # route over the live one cannot read that (inner maps are found by id),
    # fails, and changes nothing
    less = [c for c in caps if c != "SYS_ADMIN"]
    once = with_caps(less, [STEERD, "--once", "--routes", steerd.routes,
                            "--bpffs", sandbox.pin_dir, "--cgroup", sandbox.cgroup,
                            "--metrics", "off"])
    p = subprocess.run(once, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=30)
    assert p.returncode == 0 and "1 overridden by steerctl" in p.stdout, p.stdout
    steerd.write_route("reviews", route({"v1": 50, "v2": 50}))
    p = subprocess.run(once, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=30)
    assert p.returncode != 0 and \
        "cannot read live route reviews: Operation not permitted" in p.stdout, p.stdout
    v1, v2 = versions(client.run(VIP4, count=20))
    assert (v1, v2) == (0, 20)
