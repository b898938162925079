# SPDX-License-Identifier: BSD-2-Clause
"""steerd's lifecycle (docs/DESIGN.md §3, §4): SIGTERM leaves the datapath working, --once
applies and exits, --cleanup detaches and unpins, a restart takes the pins over."""
import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from steer import STEERD
from test_steer import VIP4, assert_all, route, versions

pytestmark = pytest.mark.usefixtures("need_binaries")


def test_sigterm_leaves_datapath_working(steerd, client):
    steerd.write_route("reviews", route({"v1": 0, "v2": 100}))
    steerd.start()
    steerd.stop()
    assert steerd.proc.returncode == 0
    assert_all(client.run(VIP4, count=100), {"v2-a", "v2-b"}, 100)
    assert os.path.exists(os.path.join(steerd.sb.pin_dir, "links", "connect4"))


def start_signalled(steerd, sig):
    """Start steerd and send @sig as soon as it has logged anything, while
    it is still loading and attaching the datapath."""
    off = steerd.spawn()
    deadline = time.monotonic() + 10
    while not steerd.log_since(off) and time.monotonic() < deadline:
        time.sleep(0.001)
    steerd.proc.send_signal(sig)
    return off


def test_sighup_during_start_reloads_once_ready(steerd, client):
    """A SIGHUP that comes while steerd is still starting (a reload right
    after a deploy) is held for the event loop, not fatal."""
    steerd.write_route("reviews", route({"v1": 0, "v2": 100}))
    off = start_signalled(steerd, signal.SIGHUP)
    steerd.wait_ready(off, 15)
    assert steerd.wait_log(r"applied 1 routes .*\(SIGHUP\)", off), steerd.log_since(off)
    assert steerd.proc.poll() is None, steerd.log_since(off)
    assert_all(client.run(VIP4, count=50), {"v2-a", "v2-b"}, 50)


def test_sigterm_during_start_exits_cleanly(steerd, client):
    """SIGTERM while steerd is still starting: it finishes attaching, then
    exits 0 as on any SIGTERM, the datapath pinned and working."""
    steerd.write_route("reviews", route({"v1": 0, "v2": 100}))
    off = start_signalled(steerd, signal.SIGTERM)
    steerd.proc.wait(timeout=15)
    assert steerd.proc.returncode == 0, steerd.log_since(off)
    assert "exiting on Terminated" in steerd.log_since(off)
    assert_all(client.run(VIP4, count=50), {"v2-a", "v2-b"}, 50)


def test_once_applies_and_exits(steerd, client):
    steerd.write_route("reviews", route({"v1": 100, "v2": 0}))
    p = subprocess.run([STEERD, "--once", "--routes", steerd.routes, "--bpffs",
                        steerd.sb.pin_dir, "--cgroup", steerd.sb.cgroup],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=30)
    assert p.returncode == 0, p.stdout
    assert_all(client.run(VIP4, count=100), {"v1-a", "v1-b"}, 100)


def test_once_with_bad_file_exits_1_and_changes_nothing(steerd, client):
    steerd.write_route("reviews", route({"v1": 100, "v2": 0}))
    argv = [STEERD, "--once", "--routes", steerd.routes, "--bpffs", steerd.sb.pin_dir,
            "--cgroup", steerd.sb.cgroup]
    assert subprocess.run(argv, capture_output=True, timeout=30).returncode == 0
    steerd.write_route("reviews", route({"v1": 50, "v2": 40}))
    p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert "reviews.yaml:" in p.stderr and "split sums to 90.00" in p.stderr, p.stderr
    assert_all(client.run(VIP4, count=100), {"v1-a", "v1-b"}, 100)


def test_cleanup_detaches_and_unpins(steerd, client):
    steerd.write_route("reviews", route({"v1": 100, "v2": 0}))
    steerd.start()
    steerd.stop()
    p = subprocess.run([STEERD, "--cleanup", "--bpffs", steerd.sb.pin_dir],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert not os.path.exists(steerd.sb.pin_dir)
    r = client.run(VIP4, count=5)  # no hook any more: the VIP is unreachable
    assert r["counts"] == {} and set(r["errors"]) <= {"ENETUNREACH", "EHOSTUNREACH"}, r


def test_restart_keeps_split_and_reuses_pins(steerd, client):
    steerd.write_route("reviews", route({"v1": 20, "v2": 80}))
    steerd.start()
    off = steerd.log_offset()
    steerd.stop()
    steerd.start()
    log = steerd.log_since(off)
    assert "0 published, 1 unchanged" in log, log
    v1, v2 = versions(client.run(VIP4, count=500))
    assert v1 + v2 == 500 and abs(v2 / 5 - 80) <= 5, (v1, v2)


NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def private_bpffs(mode, argv):
    """ARGV in a mount namespace of its own whose /sys/fs/bpf is a fresh bpffs of
    MODE (systemd and steerd mount it 0700), or no bpffs at all ("none"); the
    host's mounts are not touched. Prints "LEFT: " and, if ARGV changed that
    /sys/fs/bpf, what is in it; exits with ARGV's status."""
    script = "while umount /sys/fs/bpf 2>/dev/null; do :; done; "
    if mode != "none":
        script += f"mount -t bpf -o mode={mode} bpf /sys/fs/bpf || exit 99; "
    # A fresh bpffs may hold the kernel's own maps.debug and progs.debug.
    script += ('before=$(ls -A /sys/fs/bpf); "$@"; rc=$?; '
               'after=$(ls -A /sys/fs/bpf); '
               '[ "$before" = "$after" ] && echo "LEFT: " || echo "LEFT: $after"; '
               'exit $rc')
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script,
            "sh"] + list(argv)


@pytest.mark.parametrize("bpffs", ["host", "0700", "none"])
@pytest.mark.parametrize("args", [[], ["--once"], ["--cleanup"]])
def test_unprivileged_steerd_says_what_is_missing_and_leaves_nothing(steerd, bpffs,
                                                                     args):
    """One line naming the missing privileges, whatever the mode of /sys/fs/bpf
    (a demo's steerd may have mounted it 0700) or none mounted, before steerd
    touches any filesystem."""
    steerd.write_route("reviews", route({"v1": 100}))
    argv = NOBODY + [STEERD, "--routes", steerd.routes, "--bpffs", steerd.sb.pin_dir,
                     "--cgroup", steerd.sb.cgroup, "--metrics", "off"] + args
    if bpffs != "host":
        argv = private_bpffs(bpffs, argv)
    p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert p.returncode == 1, p
    lines = p.stderr.strip().splitlines()
    assert lines == ["steerd: not enough privileges: needs root, or CAP_BPF, "
                     "CAP_PERFMON, CAP_NET_ADMIN and CAP_SYS_ADMIN; missing: CAP_BPF, "
                     "CAP_PERFMON, CAP_NET_ADMIN, CAP_SYS_ADMIN"], p.stderr
    assert not os.path.exists(steerd.sb.pin_dir)
    if bpffs != "host":
        assert p.stdout == "LEFT: \n", p.stdout


def test_missing_capability_is_named(steerd):
    """Root without CAP_NET_ADMIN: the one missing capability is named."""
    steerd.write_route("reviews", route({"v1": 100}))
    p = subprocess.run(["setpriv", "--bounding-set=-net_admin",
                        STEERD, "--once", "--routes", steerd.routes,
                        "--bpffs", steerd.sb.pin_dir, "--cgroup", steerd.sb.cgroup],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1, p
    assert p.stderr.strip().splitlines() == [
        "steerd: not enough privileges: needs root, or CAP_BPF, CAP_PERFMON, "
        "CAP_NET_ADMIN and CAP_SYS_ADMIN; missing: CAP_NET_ADMIN"], p.stderr
    assert not os.path.exists(steerd.sb.pin_dir)


def test_routes_directory_replaced_is_watched_again(steerd, client):
    """A tool that swaps the whole routes directory (mv new dir into place) leaves
    the old config in force while the path is missing, and steerd applies the new
    directory once it is back."""
    steerd.write_route("reviews", route({"v1": 100, "v2": 0}))
    steerd.start()
    old = steerd.routes + ".old"
    os.rename(steerd.routes, old)
    time.sleep(0.3)
    assert_all(client.run(VIP4, count=50), {"v1-a", "v1-b"}, 50)
    new = steerd.routes + ".new"
    os.mkdir(new)
    with open(os.path.join(new, "reviews.yaml"), "w") as f:
        f.write(route({"v1": 0, "v2": 100}))
    os.rename(new, steerd.routes)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        if versions(client.run(VIP4, count=10)) == (0, 10):
            break
        time.sleep(0.1)
    assert_all(client.run(VIP4, count=50), {"v2-a", "v2-b"}, 50)
    log = steerd.log_since()
    assert "went away" in log and "watching" in log and "again" in log, log
    shutil.rmtree(old)


def test_missing_routes_directory_at_start_is_waited_for(steerd, client):
    os.rmdir(steerd.routes)
    steerd.start()  # ready even without the directory: the pins stay as they are
    os.mkdir(steerd.routes)
    steerd.write_route("reviews", route({"v1": 0, "v2": 100}))
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        r = client.run(VIP4, count=10)
        if versions(r) == (0, 10):
            break
        time.sleep(0.1)
    assert_all(client.run(VIP4, count=50), {"v2-a", "v2-b"}, 50)


FEATURES = ("btf", "sk_storage", "set_retval", "ringbuf", "sock_destroy", "tcx")


def version_states(argv):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("steerd "), p.stdout
    states = {}
    for line in p.stdout.splitlines()[2:]:
        words = line.split()
        if words and words[0] in FEATURES:
            states[words[0]] = words[1]
    assert sorted(states) == sorted(FEATURES), p.stdout
    return states


# Probed and shown, but not used by this build: never "active".
UNUSED = ("tcx",)
# Used where the kernel has it (Linux 6.5+): active, or inactive where absent.
OPTIONAL_USED = ("sock_destroy",)


def test_version_lists_the_kernel_features():
    states = version_states([STEERD, "--version"])
    # steer's minimum kernel has all of these; the machine running the
    # tests has at least that kernel (tests/vm checks 6.1's inactive ones).
    for name in ("btf", "sk_storage", "set_retval", "ringbuf"):
        assert states[name] == "active", states
    for name in UNUSED:
        assert states[name] in ("available", "inactive"), states
    for name in OPTIONAL_USED:
        assert states[name] in ("active", "inactive"), states
    assert set(states.values()) <= {"active", "available", "inactive"}, states


def test_start_log_names_only_used_features_active(steerd):
    steerd.write_route("reviews", route({"v1": 100}))
    steerd.start()
    msgs = [json.loads(ln).get("msg", "") for ln in steerd.log_since().splitlines()
            if ln.startswith("{")]
    active = [m for m in msgs if m.startswith("kernel features active: ")]
    assert len(active) == 1, msgs
    states = version_states([STEERD, "--version"])
    assert set(active[0].split(": ", 1)[1].split()) == {
        "btf", "sk_storage", "set_retval", "ringbuf"} | {
        n for n in OPTIONAL_USED if states[n] == "active"}, active
    avail = [n for n in UNUSED if states[n] == "available"]
    unused = [m for m in msgs if m.startswith("kernel features available, ")]
    if avail:
        assert len(unused) == 1 and unused[0].split(": ", 1)[1].split() == avail, msgs
    else:
        assert unused == [], msgs


def test_unprivileged_version_says_unknown_where_probing_needs_privileges():
    states = version_states(["setpriv", "--reuid=65534", "--regid=65534",
                             "--clear-groups", STEERD, "--version"])
    for name in ("sk_storage", "set_retval", "ringbuf"):
        assert states[name] == "unknown", states
    assert states["btf"] == "active", states
