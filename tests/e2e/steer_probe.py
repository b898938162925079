#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""TCP probe client for the steer e2e tests and the demo (stdlib only).
Run it inside the test netns, against tests/e2e/echo_server.py backends:

  nsenter --net=/run/netns/NS /usr/bin/python3 tests/e2e/steer_probe.py --cgroup CG
      [--uid U] [--bind ADDR] --count N [--interval-ms M] [--duration-s S]
      [--cgroups-many K] [--seq] [--timeout-s T] [--bars [--order A,B]] ADDR:PORT

It first moves itself into CG (before any socket exists: steer's socket-layer
programs only see processes in their cgroup), then drops to --uid (and clears the
supplementary groups), then does N TCP connects (--timeout-s, default 2 s, each); from each it
reads the server's line "IDENT PEER_ADDR PEER_PORT LOCAL" and records
getpeername() of the connected socket.  Prints one JSON document:
  {"counts": {IDENT: n}, "backends": {LOCAL: n}, "bytes": {LOCAL: bytes read},
   "errors": {ERRNO_NAME: n},
   "peernames": [...], "sources": [...], "total": N, "uid": U, "cgroup": "/..."}
"sources" are the client addresses the servers saw, "backends" the server
addresses that accepted.  --seq adds "seq": a list of [wall_time, IDENT or
ERRNO_NAME] per connect.  --cgroups-many K creates K child cgroups c0..cK-1 under
CG and does the N connects from each in turn (moving itself), adding
"per_cgroup": {"c0": [IDENT...], ...}.  --bars prints, instead of JSON, one line
per IDENT (in --order, else sorted) with a bar and its share, then one line per
error (the demo's output).  --duration-s bounds the whole run in time (connects
stop when it is over).
"""
import argparse
import errno
import json
import os
import socket
import sys
import time

sys.dont_write_bytecode = True  # leave no __pycache__ behind
from hostport import fmt_addr, parse_addr  # noqa: E402 (tests/e2e/hostport.py)


def join_cgroup(path):
    with open(os.path.join(path, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))


def my_cgroup():
    with open("/proc/self/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                return line[3:].strip()
    return ""


def connect_once(fam, host, port, bind, timeout=2.0):
    """Returns (ident or None, errno name or None, peername, source seen by server,
    backend that accepted, payload bytes received)."""
    s = socket.socket(fam, socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        if bind:
            s.bind((bind, 0))
        s.connect((host, port))
        peer = fmt_addr(fam, s.getpeername())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(256)
            if not chunk:
                break
            buf += chunk
        parts = buf.decode(errors="replace").split()
        if not parts:
            return None, "EMPTY", peer, None, None, len(buf)
        return (parts[0], None, peer, parts[1] if len(parts) > 1 else None,
                parts[3] if len(parts) > 3 else None, len(buf))
    except socket.timeout:
        return None, "ETIMEDOUT", None, None, None, 0
    except OSError as e:
        return None, errno.errorcode.get(e.errno, str(e.errno)), None, None, None, 0
    finally:
        s.close()


def bars(counts, errors, total, order, width=30):
    """One line per IDENT: count, bar, share of all connects; then the errors."""
    total = total or 1
    out = []
    for ident in order or sorted(counts):
        n = counts.get(ident, 0)
        out.append(f"    {ident:<4}{n:>5} {'█' * round(width * n / total):<{width}}"
                   f" {100 * n / total:5.1f}%")
    for err, n in sorted(errors.items()):
        code = getattr(errno, err, None)
        out.append(f"    {os.strerror(code) if code else err}: {n}")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cgroup", required=True)
    ap.add_argument("--uid", type=int)
    ap.add_argument("--bind")
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--interval-ms", type=float, default=0)
    ap.add_argument("--duration-s", type=float, default=60)
    ap.add_argument("--cgroups-many", type=int, default=0)
    ap.add_argument("--seq", action="store_true")
    ap.add_argument("--timeout-s", type=float, default=2.0, help="per connect and read")
    ap.add_argument("--bars", action="store_true", help="print bars, not JSON")
    ap.add_argument("--order", default="", help="A,B: IDENTs to show with --bars, in order")
    ap.add_argument("target")
    a = ap.parse_args()
    if a.count > 100000 or a.cgroups_many > 1000:
        ap.error("count/cgroups-many out of bounds")

    join_cgroup(a.cgroup)  # before any socket is opened
    groups = []
    if a.cgroups_many:
        for i in range(a.cgroups_many):
            p = os.path.join(a.cgroup, f"c{i}")
            os.makedirs(p, exist_ok=True)
            groups.append((f"c{i}", p))
    if a.uid is not None:
        os.setgroups([])
        os.setgid(a.uid)
        os.setuid(a.uid)

    fam, host, port = parse_addr(a.target)
    counts, backends, errors, peers, sources, seq = {}, {}, {}, set(), set(), []
    nbytes = {}
    per_cgroup = {}
    deadline = time.monotonic() + a.duration_s
    total = 0

    def one(tag=None):
        nonlocal total
        ident, err, peer, src, backend, n = connect_once(fam, host, port, a.bind,
                                                         a.timeout_s)
        total += 1
        if ident:
            counts[ident] = counts.get(ident, 0) + 1
            if backend:
                backends[backend] = backends.get(backend, 0) + 1
                nbytes[backend] = nbytes.get(backend, 0) + n
        else:
            errors[err] = errors.get(err, 0) + 1
        if peer:
            peers.add(peer)
        if src:
            sources.add(src)
        if a.seq:
            seq.append([time.time(), ident or err])
        if tag is not None:
            per_cgroup.setdefault(tag, []).append(ident or err)
        if a.interval_ms:
            time.sleep(a.interval_ms / 1000.0)

    if groups:
        for tag, path in groups:
            join_cgroup(path)
            for _ in range(a.count):
                if time.monotonic() > deadline:
                    break
                one(tag)
        join_cgroup(a.cgroup)
    else:
        for _ in range(a.count):
            if time.monotonic() > deadline:
                break
            one()

    if a.bars:
        print(bars(counts, errors, total, [i for i in a.order.split(",") if i]))
        return
    out = {"counts": counts, "backends": backends, "bytes": nbytes, "errors": errors,
           "peernames": sorted(peers),
           "sources": sorted(sources), "total": total, "uid": os.getuid(),
           "cgroup": my_cgroup()}
    if a.seq:
        out["seq"] = seq
    if groups:
        out["per_cgroup"] = per_cgroup
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
