# SPDX-License-Identifier: BSD-2-Clause
"""DNS discovery of backends (issue 14) against a real DNS server: dnsmasq in
the test namespace, answering from a hosts file the test rewrites (SIGHUP
reloads it) and from SRV records. steerd runs in the same namespace with
--dns-server pointing at it. Real connections reach the newly resolved
backends; NXDOMAIN gives a version no backends (its share goes to the other
versions, a rule that sends it everything refuses); a dead DNS server keeps
the last answer and is counted; SRV weights and ports are honoured."""
import os
import subprocess
import time

import pytest

import promtext
from dnsmasq_server import DNS_IP, DNSMASQ, Dnsmasq
from sandbox import PYTHON
from steer import STEERD, Steerctl, Steerd
from test_metrics import free_port

pytestmark = pytest.mark.usefixtures("need_binaries")

VIP = "10.96.0.60"


class DnsSteerd(Steerd):
    """steerd in the sandbox namespace (so that it reaches dnsmasq there)."""

    def __init__(self, sb):
        super().__init__(sb, binary=["nsenter", f"--net={sb.netns_path}", STEERD])

    extra = []

    def argv(self):
        return super().argv() + ["--dns-server", DNS_IP, "--dns-min-ttl", "1",
                                 "--dns-max-ttl", "5"] + self.extra


@pytest.fixture
def dns_ip(sandbox):
    ipn = ["ip", "-n", sandbox.netns]
    subprocess.run(ipn + ["addr", "add", f"{DNS_IP}/32", "dev", "svc0"], check=True)
    yield DNS_IP
    subprocess.run(ipn + ["addr", "del", f"{DNS_IP}/32", "dev", "svc0"], check=False)


@pytest.fixture
def dsteerd(sandbox, need_binaries, dns_ip):
    if not os.access(DNSMASQ, os.X_OK):
        pytest.skip("dnsmasq not installed (tools/install-deps.sh)")
    d = DnsSteerd(sandbox)
    sandbox.closers.append(d.cleanup)
    try:
        yield d
    finally:
        try:
            d.cleanup()
        finally:
            assert not os.path.exists(sandbox.pin_dir), "pin dir left behind"
            state = f"/run/steer/{os.path.basename(sandbox.pin_dir)}"
            assert not os.path.exists(state), "DNS state left behind"


@pytest.fixture
def dnsmasq(sandbox, dns_ip):
    servers = []

    def make(hosts, srv=()):
        s = Dnsmasq(sandbox, hosts, srv).start()
        servers.append(s)
        return s
    yield make
    for s in servers:
        s.stop()


def dns_route(cg, v2_entry="{dns: v2.steer.test, port: 9080}"):
    return (f"kind: Route\nname: dnsr\n"
            f'frontends: ["{VIP}:9080"]\n'
            f"versions:\n"
            f"  v1: {{backends: [{{dns: v1.steer.test, port: 9080}}]}}\n"
            f"  v2: {{backends: [{v2_entry}]}}\n"
            f"rules:\n"
            f"  - name: testers\n    match: {{cgroups: [{cg('testers')}]}}\n"
            f"    split: {{v2: 100}}\n"
            f"  - name: default\n    split: {{v1: 50, v2: 50}}\n")


def scrape_in_ns(sb, port):
    code = ("import urllib.request,sys;"
            f"sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:{port}/metrics',"
            "timeout=5).read().decode())")
    r = subprocess.run(sb.nsenter([PYTHON, "-c", code]), stdout=subprocess.PIPE, text=True,
                       timeout=10, check=True)
    return promtext.parse(r.stdout)


def dval(fams, metric, dns_name, **labels):
    """promtext.value for a steer_dns_* sample (its "name" label is DNS_NAME)."""
    hits = [v for n, lab, v in fams[metric]["samples"]
            if lab.get("name") == dns_name and all(lab.get(k) == x for k, x in labels.items())]
    assert len(hits) == 1, (metric, dns_name, labels, hits)
    return hits[0]


def backends_seen(client, n=60, cgroup="clients"):
    r = client.run(f"{VIP}:9080", count=n, cgroup=cgroup)
    return r


def wait_for(fn, timeout=8.0, what=""):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        assert time.monotonic() < deadline, f"timed out: {what}"
        time.sleep(0.2)


def test_dns_backends_follow_the_records(sandbox, dsteerd, dnsmasq, client, cg):
    dns = dnsmasq({"v1.steer.test": ["10.244.1.5", "10.244.1.6"],
                   "v2.steer.test": ["10.244.2.7"]})
    port = free_port()
    dsteerd.metrics = f"127.0.0.1:{port}"
    dsteerd.write_route("dnsr", dns_route(cg))
    dsteerd.start()
    ctl = Steerctl(sandbox, dsteerd)

    # the first apply waited for the answers: every address is a backend
    r = backends_seen(client, 90)
    assert r["errors"] == {} and set(r["backends"]) == {
        "10.244.1.5:9080", "10.244.1.6:9080", "10.244.2.7:9080"}, r
    st = ctl.json("status")
    names = {(e["type"], e["name"]): e for e in st["dns"]}
    v1 = names[("dns", "v1.steer.test")]
    assert sorted(a["address"] for a in v1["addresses"]) == ["10.244.1.5:9080",
                                                             "10.244.1.6:9080"]
    assert v1["ttl"] == 2 and v1["port"] == 9080 and v1["failures"] == 0
    text = ctl.run("status", check=True).stdout
    assert "dns v1.steer.test port 9080  ttl 2s" in text, text

    # another route's file changes: the reload takes dnsr's document as it
    # was, and its answers with it (not a route with none)
    dsteerd.write_route("other", "kind: Route\nname: other\n"
                        'frontends: ["10.96.0.61:9080"]\n'
                        "versions: {v1: {backends: [10.244.1.5:9080]}}\n"
                        "rules: [{name: default, split: {v1: 100}}]\n")
    wait_for(lambda: "other" in ctl.status(), what="other applied")
    r = backends_seen(client, 90)
    assert r["errors"] == {} and set(r["backends"]) == {
        "10.244.1.5:9080", "10.244.1.6:9080", "10.244.2.7:9080"}, r

    # v2's pods change: the new address is reached, the old one no more
    gen = ctl.status()["dnsr"]["generation"]
    dns.reload({"v1.steer.test": ["10.244.1.5", "10.244.1.6"],
                "v2.steer.test": ["10.244.2.8"]})
    wait_for(lambda: ctl.status()["dnsr"]["generation"] > gen, what="republish")
    r = backends_seen(client, 60)
    assert r["errors"] == {} and "10.244.2.8:9080" in r["backends"] \
        and "10.244.2.7:9080" not in r["backends"], r

    # v2 has no ready pod (NXDOMAIN): its share goes to v1; the testers rule,
    # which sends v2 everything, has no backend left and refuses
    dns.reload({"v1.steer.test": ["10.244.1.5", "10.244.1.6"]})
    wait_for(lambda: not [v for v in ctl.status()["dnsr"]["versions"]
                          if v["name"] == "v2" and v["backends"]], what="v2 emptied")
    r = backends_seen(client, 40)
    assert r["errors"] == {} and set(r["backends"]) == {"10.244.1.5:9080",
                                                        "10.244.1.6:9080"}, r
    r = backends_seen(client, 10, cgroup="testers")
    assert r["errors"] == {"ECONNREFUSED": 10}, r
    fams = scrape_in_ns(sandbox, port)
    lab = dict(dns_name="v2.steer.test", type="dns", port="9080")
    assert dval(fams, "steer_dns_backends", **lab) == 0
    assert dval(fams, "steer_dns_changes_total", **lab) == 2
    assert dval(fams, "steer_dns_failures_total", **lab) == 0

    # the DNS server dies: the last answer stays, the failures are counted
    gen = ctl.status()["dnsr"]["generation"]
    dns.stop()
    lab1 = dict(dns_name="v1.steer.test", type="dns", port="9080")
    wait_for(lambda: dval(scrape_in_ns(sandbox, port),
                                    "steer_dns_failures_total", **lab1) >= 2,
             what="failures counted")
    r = backends_seen(client, 40)
    assert r["errors"] == {} and set(r["backends"]) == {"10.244.1.5:9080",
                                                        "10.244.1.6:9080"}, r
    st = ctl.status()["dnsr"]
    assert st["generation"] == gen, "a failure must not republish"
    fams = scrape_in_ns(sandbox, port)
    assert dval(fams, "steer_dns_backends", **lab1) == 2
    q = dval(fams, "steer_dns_queries_total", **lab1)
    assert q >= 3
    assert dval(fams, "steer_dns_ttl_seconds", **lab1) == 2
    assert dval(fams, "steer_dns_last_success_timestamp_seconds", **lab1) > 0
    # validate does not resolve: it passes with the server gone
    p = ctl.run("validate", dsteerd.route_path("dnsr"))
    assert p.returncode == 0, p.stderr


def test_srv_targets_ports_and_weights(sandbox, dsteerd, dnsmasq, client, cg):
    # two targets of priority 0 weighted 1:3, one of priority 10 left unused
    dnsmasq({"a.steer.test": ["10.244.2.7"], "b.steer.test": ["10.244.2.8"],
             "c.steer.test": ["10.244.3.3"]},
            srv=["_http._tcp.v2.steer.test,a.steer.test,9080,0,1",
                 "_http._tcp.v2.steer.test,b.steer.test,9080,0,3",
                 "_http._tcp.v2.steer.test,c.steer.test,9080,10,50"])
    dnsmasq_hosts = {"v1.steer.test": ["10.244.1.5"]}
    with open(os.path.join(sandbox.tmp, "dnsmasq", "hosts"), "a") as f:
        for n, addrs in dnsmasq_hosts.items():
            f.writelines(f"{a} {n}\n" for a in addrs)
    dsteerd.write_route("dnsr", dns_route(cg, "{srv: _http._tcp.v2.steer.test}"))
    dsteerd.start()
    ctl = Steerctl(sandbox, dsteerd)
    st = ctl.json("status")
    (srv,) = [e for e in st["dns"] if e["type"] == "srv"]
    assert sorted((a["address"], a["weight"]) for a in srv["addresses"]) == [
        ("10.244.2.7:9080", 1), ("10.244.2.8:9080", 3)], srv
    r = client.run(f"{VIP}:9080", count=400, cgroup="testers")
    assert r["errors"] == {}, r
    a, b = r["backends"].get("10.244.2.7:9080", 0), r["backends"].get("10.244.2.8:9080", 0)
    assert a + b == 400 and abs(b / 400 - 0.75) < 0.05, r["backends"]


def test_large_answer_over_tcp(sandbox, dsteerd, dnsmasq, client, cg):
    """40 A records (16 bytes each) do not fit in a 512-byte UDP answer, which
    holds at most 30 of them: dnsmasq sets TC and c-ares asks again over TCP.
    40 addresses can only have come that way; a version holds 4,096, so all
    40 are backends, none cut or left out."""
    big = [f"10.244.100.{i}" for i in range(1, 41)]
    dnsmasq({"v1.steer.test": ["10.244.1.5"], "big.steer.test": big})
    port = free_port()
    dsteerd.metrics = f"127.0.0.1:{port}"
    dsteerd.write_route("dnsr", dns_route(cg, "{dns: big.steer.test, port: 9080}"))
    dsteerd.start()
    ctl = Steerctl(sandbox, dsteerd)
    st = ctl.json("status")
    (e,) = [e for e in st["dns"] if e["name"] == "big.steer.test"]
    assert e["failures"] == 0 and e["truncated"] == 0 and e["left_out"] == 0, e
    assert sorted(a["address"] for a in e["addresses"]) == sorted(
        f"{a}:9080" for a in big), e
    log = open(os.path.join(sandbox.tmp, "dnsmasq", "log")).read()
    assert "big.steer.test" in log
    (v2,) = [v for v in st["routes"][0]["versions"] if v["name"] == "v2"]
    assert len(v2["backends"]) == 40, v2
    assert "more than a version holds" not in dsteerd.log_since(0)
    fams = scrape_in_ns(sandbox, port)
    lab = dict(dns_name="big.steer.test", type="dns", port="9080")
    assert dval(fams, "steer_dns_truncated_total", **lab) == 0
    assert dval(fams, "steer_dns_left_out", **lab) == 0
    assert dval(fams, "steer_dns_backends", **lab) == 40


def test_full_version_leaves_addresses_out(sandbox, dsteerd, dnsmasq, client, cg):
    """A version's backends written in the file come first: 4,094 of them
    leave room for 2 of a name's 3 addresses; the third is left out, logged
    and shown in steer_dns_left_out. The answer itself was not cut. (Backend
    ids: 8 a route of --max-routes, 4,097 addresses here.)"""
    dsteerd.extra = ["--max-routes", "1024"]
    dnsmasq({"v1.steer.test": ["10.244.1.5"],
             "v2.steer.test": ["10.244.2.1", "10.244.2.2", "10.244.2.3"]})
    port = free_port()
    dsteerd.metrics = f"127.0.0.1:{port}"
    fixed = ", ".join(f"10.{245 + i // 62500}.{i // 250 % 250}.{i % 250 + 1}:9080"
                      for i in range(4094))
    dsteerd.write_route("dnsr", dns_route(
        cg, "{dns: v2.steer.test, port: 9080}").replace(
            "v2: {backends: [", f"v2: {{backends: [{fixed}, "))
    dsteerd.start()
    st = Steerctl(sandbox, dsteerd).json("status")
    (v2,) = [v for v in st["routes"][0]["versions"] if v["name"] == "v2"]
    assert len(v2["backends"]) == 4096, len(v2["backends"])
    assert "dns: route dnsr version v2: no room for 1 of v2.steer.test's 3 " \
        "addresses (at most 4096 backends per version)" in dsteerd.log_since(0)
    fams = scrape_in_ns(sandbox, port)
    lab = dict(dns_name="v2.steer.test", type="dns", port="9080")
    assert dval(fams, "steer_dns_left_out", **lab) == 1
    assert dval(fams, "steer_dns_truncated_total", **lab) == 0
    assert dval(fams, "steer_dns_backends", **lab) == 3


def test_pod_churn_reuses_backend_ids(sandbox, dsteerd, dnsmasq, client, cg):
    """Every rollout gives a version's pods new addresses. steer_backends_v2
    holds 8 addresses per route of --max-routes: with --max-routes 1, ids 1
    to 7. 6 rollouts bring 19 addresses, so ids of addresses no route uses
    any more must be reused, or the 2nd rollout fails with ENOSPC and the
    route keeps pods that are gone. Connections reach the last pods."""
    dsteerd.extra = ["--max-routes", "1"]
    v1 = {"v1.steer.test": ["10.244.1.5"]}
    dns = dnsmasq(dict(v1, **{"v2.steer.test": ["10.244.2.7"]}))
    dsteerd.write_route("dnsr", dns_route(cg))
    dsteerd.start()
    ctl = Steerctl(sandbox, dsteerd)
    # the sandbox's backends answer on these addresses only: the connect
    # checks use the last two rollouts' pods
    pods = [["10.244.3.%d" % (3 * r + i) for i in range(1, 4)] for r in range(4)] + [
        ["10.244.1.6", "10.244.2.8", "10.244.2.9"], ["10.244.2.7", "10.244.2.8"]]
    for addrs in pods:
        gen = ctl.status()["dnsr"]["generation"]
        dns.reload(dict(v1, **{"v2.steer.test": addrs}))
        wait_for(lambda: ctl.status()["dnsr"]["generation"] > gen,
                 what=f"republish with {addrs}")
        (v2,) = [v for v in ctl.status()["dnsr"]["versions"] if v["name"] == "v2"]
        assert sorted(b["address"] for b in v2["backends"]) == sorted(
            f"{a}:9080" for a in addrs), (v2, dsteerd.log_since(0)[-2000:])
    assert "ENOSPC" not in dsteerd.log_since(0) and \
        "No space left" not in dsteerd.log_since(0)
    r = backends_seen(client, 40, cgroup="testers")
    assert r["errors"] == {} and set(r["backends"]) == {
        "10.244.2.7:9080", "10.244.2.8:9080"}, r


def test_override_kept_when_only_answers_change(sandbox, dsteerd, dnsmasq, client, cg):
    """steerctl set and eject are overrides: a changed route file wins over
    them, but new DNS answers are no file change. The route is republished
    with the new addresses and keeps steerctl's split and ejections, so a
    steerctl rollout goes on while the canary's pods are replaced."""
    v1 = {"v1.steer.test": ["10.244.1.5", "10.244.1.6"]}
    dns = dnsmasq(dict(v1, **{"v2.steer.test": ["10.244.2.7"]}))
    dsteerd.write_route("dnsr", dns_route(cg))
    dsteerd.start()
    ctl = Steerctl(sandbox, dsteerd)
    ctl.json("set", "dnsr", "v1=20", "v2=80")
    ctl.json("eject", "dnsr", "10.244.1.6:9080")
    gen = ctl.status()["dnsr"]["generation"]

    dns.reload(dict(v1, **{"v2.steer.test": ["10.244.2.8"]}))
    wait_for(lambda: ctl.status()["dnsr"]["generation"] > gen, what="republish")
    st = ctl.status()["dnsr"]
    assert st["override"] is True, st
    (default,) = [r for r in st["rules"] if r["name"] == "default"]
    assert default["split"] == {"v1": 20.0, "v2": 80.0}, default
    assert default["file_split"] == {"v1": 50.0, "v2": 50.0}, default
    backends = {v["name"]: {b["address"]: b["ejected"] for b in v["backends"]}
                for v in st["versions"]}
    assert backends == {"v1": {"10.244.1.5:9080": False, "10.244.1.6:9080": True},
                        "v2": {"10.244.2.8:9080": False}}, backends
    r = backends_seen(client, 300)
    assert r["errors"] == {} and set(r["backends"]) == {
        "10.244.1.5:9080", "10.244.2.8:9080"}, r
    assert abs(r["backends"]["10.244.2.8:9080"] / 300 - 0.8) < 0.08, r

    # the file changes: it wins, the override goes
    gen = ctl.status()["dnsr"]["generation"]
    dsteerd.write_route("dnsr", dns_route(cg).replace("{v1: 50, v2: 50}",
                                                      "{v1: 60, v2: 40}"))
    wait_for(lambda: ctl.status()["dnsr"]["generation"] > gen, what="file applied")
    st = ctl.status()["dnsr"]
    (default,) = [r for r in st["rules"] if r["name"] == "default"]
    assert st["override"] is False and default["split"] == {"v1": 60.0, "v2": 40.0}, st
    assert not any(b["ejected"] for v in st["versions"] for b in v["backends"]), st
