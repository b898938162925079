# SPDX-License-Identifier: BSD-2-Clause
"""steerctl over live maps: every command checked by the split observed on
real connections through a test netns + cgroup, its -o json output, the
override's life across a steerd kill -9 and a route-file change, and bad
arguments that must change nothing.

Runs on the conftest sandbox with one steerd for the module (both route files);
each test starts from the files' state (fixture `fresh`).

Run: /usr/bin/python3 -m pytest -q tests/e2e/test_steerctl.py   (as root)
"""
import json
import subprocess

import pytest

from steer import STEERCTL, STEERD, Steerctl, map_snapshot

REVIEWS = """\
kind: Route
name: reviews
frontends: [10.96.0.20:9080]
versions:
  v1:
    backends: [10.244.1.5:9080, 10.244.1.6:9080]
  v2:
    backends: [10.244.2.7:9080, 10.244.2.8:9080]
rules:
  - name: testers
    match: {uids: [1001]}
    split: {v2: 100}
  - name: default
    split: {v1: 100, v2: 0}
"""
# 10.244.3.3 (no port: gets the dialled port) serves both versions.
RATINGS = """\
kind: Route
name: ratings
frontends: [10.96.0.30:9080]
versions:
  v1:
    backends: [10.244.3.3, 10.244.1.5:9080]
  v2:
    backends: [10.244.3.3, 10.244.2.7:9080]
rules:
  - name: all
    split: {v1: 50, v2: 50}
"""
REVIEWS_VIP = "10.96.0.20:9080"
RATINGS_VIP = "10.96.0.30:9080"
N = 400


def observe(client, n=200, who="users", uid=None, target=REVIEWS_VIP):
    """Make n real connections from test cgroup @who; return the tally
    ("versions": {v1|v2|shared: n}, "backends": {ADDR:PORT: n}, "errors", "total")."""
    return client.observe(target, count=n, cgroup=who, uid=uid)


def frac(res, key, field="versions"):
    return res[field].get(key, 0) / res["total"]


def split_of(route, rule):
    return next(r for r in route["rules"] if r["name"] == rule)["split"]


def at_file_state(route):
    return (not route["override"]
            and all(r["split"] == r["file_split"] for r in route["rules"])
            and not any(b["ejected"] for v in route["versions"]
                        for b in v["backends"]))


@pytest.fixture(scope="module")
def steerd(module_steerd):
    """One steerd for the module, serving reviews and ratings."""
    module_steerd.write_routes({"reviews": REVIEWS, "ratings": RATINGS})
    return module_steerd.start()


@pytest.fixture(scope="module")
def ctl(sandbox, steerd):
    return Steerctl(sandbox, steerd)


@pytest.fixture
def fresh(ctl):
    """Each test starts from the files' state, whatever the last one did."""
    for name in ("reviews", "ratings"):
        ctl.run("rollback", name, check=True)
    st = ctl.status()
    assert all(at_file_state(r) for r in st.values()), st
    return ctl


def test_file_state_observed(fresh, client):
    users = observe(client, N)
    assert users["versions"] == {"v1": N}, users
    testers = observe(client, 100, who="testers", uid=1001)
    assert testers["versions"] == {"v2": 100}, testers


def test_set_default_rule(fresh, client):
    out = fresh.json("set", "reviews", "v1=75", "v2=25")
    assert out["route"] == "reviews" and out["override"] is True
    assert split_of(out, "default") == {"v1": 75.0, "v2": 25.0}
    assert split_of(out, "testers") == {"v1": 0.0, "v2": 100.0}
    users = observe(client, N)
    assert not users["errors"], users
    assert 0.15 < frac(users, "v2") < 0.35, users
    # testers rule untouched
    assert observe(client, 50, who="testers", uid=1001)["versions"] == {"v2": 50}
    st = fresh.status()["reviews"]
    assert st["override"] is True
    assert split_of(st, "default") == {"v1": 75.0, "v2": 25.0}
    assert next(r for r in st["rules"] if r["name"] == "default")[
        "file_split"] == {"v1": 100.0, "v2": 0.0}


def test_set_two_decimals_exact(fresh, client):
    out = fresh.json("set", "reviews", "v1=66.67", "v2=33.33")
    assert split_of(out, "default") == {"v1": 66.67, "v2": 33.33}
    users = observe(client, N)
    assert 0.23 < frac(users, "v2") < 0.43, users


def test_set_text_output_and_generation(fresh, client):
    # Generations are global: a publish gets the newest live one + 1.
    gen = max(r["generation"] for r in fresh.status().values())
    p = fresh.run("set", "reviews", "v2=100")
    assert p.returncode == 0, p.stderr
    assert "rule default" in p.stdout and "v2 100.00%" in p.stdout
    assert "OVERRIDE" in p.stdout
    assert fresh.status()["reviews"]["generation"] == gen + 1
    assert observe(client, 100)["versions"] == {"v2": 100}


def test_set_named_rule(fresh, client):
    out = fresh.json("set", "reviews", "--rule", "testers", "v1=100")
    assert split_of(out, "testers") == {"v1": 100.0, "v2": 0.0}
    assert observe(client, 100, who="testers", uid=1001)["versions"] == {
        "v1": 100}
    assert observe(client, 100)["versions"] == {"v1": 100}


def test_set_back_to_file_split_clears_override(fresh):
    fresh.json("set", "reviews", "v1=50", "v2=50")
    out = fresh.json("set", "reviews", "v1=100")
    assert out["override"] is False
    assert at_file_state(fresh.status()["reviews"])


def test_promote(fresh, client):
    out = fresh.json("promote", "reviews", "v1")
    assert out["override"] is True
    assert all(r["split"] == {"v1": 100.0, "v2": 0.0} for r in out["rules"])
    assert observe(client, 100, who="testers", uid=1001)["versions"] == {
        "v1": 100}
    out = fresh.json("promote", "reviews", "v2")
    assert all(r["split"] == {"v1": 0.0, "v2": 100.0} for r in out["rules"])
    assert observe(client, N)["versions"] == {"v2": N}


def test_rollback(fresh, client):
    fresh.json("set", "reviews", "v1=10", "v2=90")
    fresh.json("eject", "reviews", "10.244.1.5:9080")
    assert observe(client, 100)["versions"].get("v2", 0) > 70
    out = fresh.json("rollback", "reviews")
    assert out["override"] is False
    assert all(r["split"] == r["file_split"] for r in out["rules"])
    st = fresh.status()["reviews"]
    assert at_file_state(st), st
    users = observe(client, N)
    assert users["versions"] == {"v1": N}, users
    assert set(users["backends"]) == {"10.244.1.5:9080", "10.244.1.6:9080"}


def test_eject_restore(fresh, client):
    out = fresh.json("eject", "reviews", "10.244.1.5:9080")
    assert out["backends"] == [{"version": "v1",
                                "address": "10.244.1.5:9080"}]
    assert out["override"] is True
    users = observe(client, 200)
    assert users["backends"] == {"10.244.1.6:9080": 200}, users
    st = fresh.status()["reviews"]
    ej = {b["address"]: b["ejected"] for v in st["versions"]
          for b in v["backends"]}
    assert ej["10.244.1.5:9080"] and not ej["10.244.1.6:9080"]
    out = fresh.json("restore", "reviews", "10.244.1.5:9080")
    assert out["override"] is False  # nothing else differs from the file
    users = observe(client, N)
    assert set(users["backends"]) == {"10.244.1.5:9080", "10.244.1.6:9080"}


def test_eject_whole_version_moves_share(fresh, client):
    fresh.json("set", "reviews", "v1=50", "v2=50")
    fresh.json("eject", "reviews", "10.244.2.7:9080")
    fresh.json("eject", "reviews", "10.244.2.8:9080")
    assert observe(client, 200)["versions"] == {"v1": 200}


def test_eject_shared_backend_all_versions(fresh, client):
    before = observe(client, N, target=RATINGS_VIP)
    assert before["versions"].get("shared", 0) > 0, before
    out = fresh.json("eject", "ratings", "10.244.3.3")
    assert sorted((b["version"], b["address"]) for b in out["backends"]) == [
        ("v1", "10.244.3.3"), ("v2", "10.244.3.3")]
    after = observe(client, N, target=RATINGS_VIP)
    assert "shared" not in after["versions"], after
    assert 0.35 < frac(after, "v1") < 0.65, after
    p = fresh.run("restore", "ratings", "10.244.3.3")
    assert p.returncode == 0
    assert "restored 10.244.3.3 (version v1)" in p.stdout
    assert "restored 10.244.3.3 (version v2)" in p.stdout


def test_override_survives_kill9_and_file_change_clears_it(fresh, steerd, client):
    fresh.json("set", "reviews", "v1=50", "v2=50")
    steerd.kill9()
    steerd.start()
    st = fresh.status()["reviews"]
    assert st["override"] is True
    assert split_of(st, "default") == {"v1": 50.0, "v2": 50.0}
    users = observe(client, N)
    assert 0.35 < frac(users, "v2") < 0.65, users
    # A real change of the file (not a comment): the file wins again.
    changed = REVIEWS.replace("    split: {v1: 100, v2: 0}",
                              "    split: {v1: 90, v2: 10}")
    try:
        steerd.write_route("reviews", changed)
        st = fresh.wait_status(
            lambda s: split_of(s["reviews"], "default") == {"v1": 90.0,
                                                            "v2": 10.0})
        r = st["reviews"]
        assert r["override"] is False and at_file_state(r), r
        users = observe(client, N)
        assert 0.03 < frac(users, "v2") < 0.2, users
    finally:
        steerd.write_route("reviews", REVIEWS)
        fresh.wait_status(lambda s: split_of(s["reviews"], "default")
                          == {"v1": 100.0, "v2": 0.0})


BAD = [
    (["set", "nosuch", "v1=100"], 1, "nosuch"),
    (["set", "reviews", "v9=100"], 1, "v9"),
    (["set", "reviews", "v1=60", "v2=30"], 1, "90.00%"),
    (["set", "reviews", "v1=abc"], 1, "abc"),
    (["set", "reviews", "v1=33.333", "v2=66.667"], 1, "33.333"),
    (["set", "reviews", "v1=1e2"], 1, "1e2"),
    (["set", "reviews", "v1=-5", "v2=105"], 1, "-5"),
    (["set", "reviews", "v1=101", "v2=0"], 1, "101"),
    (["set", "reviews", "v1=50", "v1=50"], 1, "twice"),
    (["set", "reviews", "--rule", "nosuch", "v1=100"], 1, "nosuch"),
    (["set", "reviews"], 2, "VERSION=PERCENT"),
    (["set", "reviews", "v1"], 2, "v1"),
    (["promote", "reviews", "v9"], 1, "v9"),
    (["promote", "nosuch", "v1"], 1, "nosuch"),
    (["promote", "reviews"], 2, "ROUTE VERSION"),
    (["rollback", "nosuch"], 1, "nosuch"),
    (["eject", "reviews", "10.244.9.9:9080"], 1, "10.244.9.9:9080"),
    (["eject", "reviews", "10.244.1.5:9999"], 1, "10.244.1.5:9999"),
    (["eject", "reviews", "not-an-address"], 1, "not-an-address"),
    (["eject", "nosuch", "10.244.1.5:9080"], 1, "nosuch"),
    (["restore", "reviews", "10.244.9.9:9080"], 1, "10.244.9.9:9080"),
    (["eject", "reviews"], 2, "ROUTE BACKEND"),
]


@pytest.mark.parametrize("args,code,names", BAD,
                         ids=[" ".join(a) for a, _, _ in BAD])
def test_bad_arguments_change_nothing(fresh, args, code, names, sandbox):
    fresh.json("set", "reviews", "v1=80", "v2=20")  # a live override
    before = map_snapshot(sandbox.pin_dir)
    p = fresh.run(*args)
    assert p.returncode == code, (p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and names in lines[0], p.stderr
    assert p.stdout == ""
    pj = fresh.run(*args, json_out=True)
    assert pj.returncode == code
    doc = json.loads(pj.stdout)
    assert doc["status"] == code and names in doc["error"], doc
    assert map_snapshot(sandbox.pin_dir) == before


def test_every_command_has_help_with_examples(need_binaries):
    for cmd in ("set", "promote", "rollback", "eject", "restore"):
        p = subprocess.run([STEERCTL, "help", cmd], text=True,
                           stdout=subprocess.PIPE)
        assert p.returncode == 0 and "EXAMPLES" in p.stdout, cmd
        assert p.stdout.startswith("Usage: steerctl " + cmd)


@pytest.mark.parametrize("prefix,candidates", [
    ("stat", "status, stats"), ("st", "status, stats"), ("ro", "rollback, rollout"),
    ("r", "rollback, rollout, restore"), ("s", "status, stats, set")])
def test_ambiguous_prefix_is_a_usage_error(need_binaries, prefix, candidates):
    """A prefix of several commands runs none of them: exit 2, naming them all,
    as a command, after help, and in JSON."""
    for argv in ([prefix], ["help", prefix], [prefix, "--help"]):
        p = subprocess.run([STEERCTL, "--bpffs", "/nonexistent"] + argv, text=True,
                           capture_output=True)
        assert p.returncode == 2 and p.stdout == "", (argv, p)
        assert p.stderr == (f"steerctl: '{prefix}' is ambiguous: {candidates}; "
                            "see 'steerctl help'\n"), (argv, p.stderr)
    p = subprocess.run([STEERCTL, "-o", "json", prefix], text=True, capture_output=True)
    assert p.returncode == 2
    assert json.loads(p.stdout) == {
        "error": f"'{prefix}' is ambiguous: {candidates}; see 'steerctl help'",
        "status": 2}


def test_version_names_the_same_build_as_steerd(need_binaries):
    """steerctl --version names the build steerd --version names (one Makefile
    VERSION), touches no pin, and answers in JSON with -o json."""
    d = subprocess.run([STEERD, "--version"], text=True, capture_output=True)
    build = d.stdout.split("\n")[0].split(" ", 1)[1]
    p = subprocess.run([STEERCTL, "--bpffs", "/nonexistent", "--version"], text=True,
                       capture_output=True)
    assert (p.returncode, p.stdout, p.stderr) == (0, f"steerctl {build}\n", "")
    p = subprocess.run([STEERCTL, "-o", "json", "--version"], text=True,
                       capture_output=True)
    assert p.returncode == 0 and json.loads(p.stdout) == {"steerctl": build}


def test_unique_prefix_and_exact_name_run_the_command(need_binaries):
    for argv in (["help", "vali"], ["vali", "--help"], ["help", "status"],
                 ["stats", "--help"], ["help", "stats"]):
        p = subprocess.run([STEERCTL] + argv, text=True, capture_output=True)
        name = "validate" if "vali" in argv else argv[0] if argv[0] != "help" else argv[1]
        assert p.returncode == 0 and p.stdout.startswith(f"Usage: steerctl {name}"), \
            (argv, p)
    p = subprocess.run([STEERCTL, "xyz"], text=True, capture_output=True)
    assert p.returncode == 2
    assert p.stderr == "steerctl: unknown command 'xyz'; see 'steerctl help'\n"


def test_unprivileged_says_what_is_missing(sandbox, steerd):
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
              STEERCTL, "--bpffs", sandbox.pin_dir]
    for args in (["status"], ["set", "reviews", "v1=100"],
                 ["eject", "reviews", "10.244.1.5:9080"]):
        p = subprocess.run(nobody + args, text=True, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        assert p.returncode == 1, (args, p.stderr)
        assert p.stdout == ""
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1, p.stderr
        assert "root or CAP_BPF" in lines[0], lines[0]
    p = subprocess.run(nobody[:-2] + ["--bpffs", sandbox.pin_dir, "-o", "json",
                                      "status"],
                       text=True, stdout=subprocess.PIPE)
    assert p.returncode == 1
    assert "CAP_BPF" in json.loads(p.stdout)["error"]


@pytest.mark.parametrize("bpffs", ["0700", "none"])
def test_unprivileged_says_what_is_missing_whatever_the_bpffs(need_binaries, sandbox,
                                                             bpffs):
    """Under a 0700 /sys/fs/bpf (as systemd and steerd mount it), or none at all,
    steerctl still names the privileges in one line."""
    from test_lifecycle import NOBODY, private_bpffs
    p = subprocess.run(private_bpffs(bpffs, NOBODY + [STEERCTL, "--bpffs",
                                                     sandbox.pin_dir, "status"]),
                       text=True, capture_output=True, timeout=30)
    assert p.returncode == 1 and p.stdout == "LEFT: \n", p
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "root or CAP_BPF" in lines[0], p.stderr


def test_sandbox_is_private(steerd, client):
    # Untranslated traffic fails inside the netns: a VIP that is no frontend.
    res = observe(client, 3, target="10.96.0.99:9080")
    assert res["versions"] == {} and sum(res["errors"].values()) == 3, res
