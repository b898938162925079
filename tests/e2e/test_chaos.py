# SPDX-License-Identifier: BSD-2-Clause
"""Bad input never causes an outage (docs/DESIGN.md §2: a bad file changes nothing).

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

from configmap import ConfigMap
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


# -- chaos -------------------------------------------------------------------------

RATINGS_VIP = "10.96.0.30:9080"
CHAOS_S = 25  # the whole test stays well under a minute


def ratings(split):
    return route(split, name="ratings", frontends=(RATINGS_VIP,))


def random_split(rng):
    v1 = rng.choice([0, 1, 5, 10, 25, 33.33, 50, 66.67, 75, 90, 95, 99, 100])
    return {"v1": v1, "v2": round(100 - v1, 2)}


def bad_files(rng):
    """Bad route files of every kind: (kind, bytes)."""
    good = ratings({"v1": 50, "v2": 50})
    return [
        ("random bytes", os.urandom(rng.randrange(1, 4096))),
        ("empty", b""),
        ("whitespace", b" \n\t\n  \r\n"),
        ("deep nesting", b"a: " + b"[" * rng.randrange(40, 20000)),
        ("deep mappings", "".join(f"{'  ' * i}k{i}:\n" for i in range(60)).encode()),
        ("bad sum", ratings({"v1": 50, "v2": 40}).encode()),
        ("bad address", good.replace("10.244.1.5:9080", "10.244.1.300:9080").encode()),
        ("bad v6 address", good.replace("fd00:244:2::7", "fd00:244:2::zz").encode()),
        ("unknown version", ratings({"v1": 50, "v3": 50}).encode()),
        ("duplicate frontend", route({"v1": 100}, name="ratings",
                                     frontends=(RATINGS_VIP, VIP4)).encode()),
        ("not a route", b"kind: Service\nname: ratings\n"),
        ("half a file", good.encode()[:rng.randrange(1, len(good) - 2)]),
        ("nul bytes", b"\0" * rng.randrange(1, 100)),
    ]


class Chaos:
    """The actors, each a thread until stop is set; errors end the test."""

    def __init__(self, steerd, cm, rng):
        self.steerd, self.cm, self.rng = steerd, cm, rng
        self.ctl = Steerctl(steerd.sb, steerd)
        self.stop = threading.Event()
        self.lock = threading.Lock()  # steerd's process: killer vs. final check
        self.count = {}
        self.errors = []
        self.ratings_path = steerd.route_path("ratings")

    def note(self, what):
        self.count[what] = self.count.get(what, 0) + 1

    def run(self, fn):
        def loop():
            try:
                while not self.stop.is_set():
                    fn()
            except Exception as e:  # reported by the test, not lost in a thread
                self.errors.append(f"{fn.__name__}: {e!r}")
                self.stop.set()
        t = threading.Thread(target=loop, name=fn.__name__, daemon=True)
        t.start()
        return t

    def pause(self, lo, hi):
        self.stop.wait(self.rng.uniform(lo, hi))

    def killer(self):
        """kill -9 steerd, now while it serves, now while it starts."""
        self.pause(0.4, 1.2)
        with self.lock:
            self.steerd.kill9()
            self.note("kill -9")
            if self.rng.random() < 0.3:
                try:  # killed again before it is ready
                    self.steerd.start(timeout=self.rng.uniform(0.01, 0.2))
                except RuntimeError:
                    pass
                self.steerd.kill9()
                self.note("kill -9 while starting")
            self.steerd.start(timeout=15)

    def steerctl(self):
        """Split churn through steerctl: set, promote, rollback."""
        self.pause(0.05, 0.25)
        route_name = self.rng.choice(["reviews", "ratings"])
        op = self.rng.random()
        if op < 0.7:
            s = random_split(self.rng)
            args = ["set", route_name, f"v1={s['v1']}", f"v2={s['v2']}"]
        elif op < 0.85:
            args = ["promote", route_name, self.rng.choice(["v1", "v2"])]
        else:
            args = ["rollback", route_name]
        p = self.ctl.run(*args)
        # 1: the route changed under it, or it met a bad file's ratings
        # nowhere; never a crash or a usage error.
        assert p.returncode in (0, 1), (args, p.returncode, p.stderr)
        self.note(f"steerctl {args[0]}" + ("" if p.returncode == 0 else " (exit 1)"))

    def write(self, data, atomic):
        if atomic:
            tmp = os.path.join(self.steerd.routes, ".ratings.tmp")
            with open(tmp, "wb") as f:
                f.write(data)
            os.rename(tmp, self.ratings_path)
            return
        with open(self.ratings_path, "wb") as f:  # truncate, then write in pieces
            cut = self.rng.randrange(0, len(data) + 1)
            f.write(data[:cut])
            f.flush()
            self.pause(0.0, 0.08)
            f.write(data[cut:])

    def files(self):
        """ratings.yaml, a plain file: good rewrites and storms of bad ones,
        written atomically (rename) or not (truncate, then pieces)."""
        self.pause(0.02, 0.15)
        atomic = self.rng.random() < 0.5
        if self.rng.random() < 0.35:
            self.write(ratings(random_split(self.rng)).encode(), atomic)
            self.note("good file")
        else:
            kind, data = self.rng.choice(bad_files(self.rng))
            self.write(data, atomic)
            self.note(f"bad file: {kind}")

    def swaps(self):
        """reviews.yaml, a ConfigMap key: ..data swaps, mostly good."""
        self.pause(0.1, 0.4)
        if self.rng.random() < 0.75:
            self.cm.write({"reviews.yaml": route(random_split(self.rng))})
            self.note("configmap swap")
        else:
            kind, data = self.rng.choice(bad_files(self.rng))
            self.cm.write({"reviews.yaml": data.decode(errors="replace")})
            self.note(f"configmap swap, bad: {kind}")


def test_chaos_no_failed_connect(steerd, client):
    seed = int(os.environ.get("STEER_CHAOS_SEED", time.time_ns() % 1000000))
    rng = random.Random(seed)
    port = free_port()
    steerd.metrics = f"127.0.0.1:{port}"
    cm = ConfigMap(steerd.routes)
    cm.write({"reviews.yaml": route({"v1": 90, "v2": 10})})
    steerd.write_route("ratings", ratings({"v1": 50, "v2": 50}))
    steerd.start()
    chaos = Chaos(steerd, cm, rng)

    load_s = CHAOS_S + 4
    loads = [client.start(t, count=100000, duration_s=load_s)
             for t in (VIP4, "[fd00:96::20]:9080", RATINGS_VIP)]
    threads = [chaos.run(f) for f in (chaos.killer, chaos.steerctl, chaos.files,
                                      chaos.swaps)]
    chaos.stop.wait(CHAOS_S)
    chaos.stop.set()
    for t in threads:
        t.join(timeout=30)
    assert not chaos.errors, (seed, chaos.errors)

    # The last good files, each a split no actor wrote: the end state is theirs,
    # overrides included (a file that changes wins over steerctl).
    with chaos.lock:
        if steerd.proc.poll() is not None:
            steerd.start()
    final = {"reviews": {"v1": 71, "v2": 29}, "ratings": {"v1": 37, "v2": 63}}
    cm.write({"reviews.yaml": route(final["reviews"])})
    steerd.write_route("ratings", ratings(final["ratings"]))
    ctl = Steerctl(steerd.sb, steerd)

    def settled(st):
        return all(st.get(name, {}).get("override") is False and
                   [(r["name"], r["split"], r["file_split"]) for r in st[name]["rules"]]
                   == [("default", want, want)] for name, want in final.items())
    ctl.wait_status(settled, timeout=5)

    results = [client.wait(p, timeout=load_s + 30) for p in loads]
    summary = f"seed {seed}, {sorted(chaos.count.items())}"
    for r in results:
        assert r["errors"] == {}, (summary, r["errors"], r["total"])
        assert r["total"] >= 1000, (summary, r["total"])
    assert chaos.count.get("kill -9", 0) >= 5, summary
    assert sum(n for k, n in chaos.count.items() if "bad" in k) >= 50, summary
    assert apply_errors(port) > 0, summary
    r = client.run(VIP4, count=1000)
    v1, v2 = versions(r)
    assert r["errors"] == {} and v1 + v2 == 1000 and abs(v1 / 10 - 71) <= 5, r
    print(f"chaos: {summary}; connects: {[r['total'] for r in results]}, 0 failed")
