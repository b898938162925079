#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Client for the steer demo and e2e tests (stdlib only).

    nsenter --net=/run/netns/NS demo_client.py --cgroup DIR [--uid N]
        [--count N] [--bars] HOST:PORT

Joins cgroup DIR first (writes its pid to DIR/cgroup.procs: steer's
socket-layer programs only see processes in their cgroup), optionally drops
to uid N (to match a `uids` rule), then makes N TCP connections to
HOST:PORT, one after another, and tallies which version and backend
answered (the demo servers reply "VERSION ADDR"). Prints one JSON document
{"total", "versions", "backends", "errors"}, or with --bars one line per
version with a bar. Bounded: N connections, 2 s timeout each.
"""
import argparse
import json
import os
import socket
import sys


def dial(host, port, timeout):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect((host, port))
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(256)
            if not chunk:
                break
            data += chunk
        return data.decode().split()


def bars(res, versions, width=30):
    total = res["total"] or 1
    out = []
    names = list(versions) or sorted(res["versions"])
    for v in names:
        n = res["versions"].get(v, 0)
        out.append(f"    {v:<4}{n:>5} {'█' * round(width * n / total):<{width}}"
                   f" {100 * n / total:5.1f}%")
    for err, n in sorted(res["errors"].items()):
        out.append(f"    {err}: {n}")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("target", help="HOST:PORT, [v6]:PORT")
    ap.add_argument("--cgroup", required=True)
    ap.add_argument("--uid", type=int)
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("--bars", action="store_true")
    ap.add_argument("--versions", default="", help="v1,v2: bar order")
    a = ap.parse_args()

    with open(os.path.join(a.cgroup, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))
    if a.uid is not None:
        os.setgroups([])
        os.setgid(a.uid)
        os.setuid(a.uid)

    host, _, port = a.target.rpartition(":")
    host = host.strip("[]")
    res = {"total": 0, "versions": {}, "backends": {}, "errors": {}}
    for _ in range(max(0, min(a.count, 100000))):
        res["total"] += 1
        try:
            reply = dial(host, int(port), a.timeout)
        except OSError as e:
            name = (os.strerror(e.errno) if e.errno else type(e).__name__)
            res["errors"][name] = res["errors"].get(name, 0) + 1
            continue
        ver = reply[0] if reply else "?"
        be = reply[1] if len(reply) > 1 else "?"
        res["versions"][ver] = res["versions"].get(ver, 0) + 1
        res["backends"][be] = res["backends"].get(be, 0) + 1
    if a.bars:
        print(bars(res, [v for v in a.versions.split(",") if v]))
    else:
        json.dump(res, sys.stdout)
        print()


if __name__ == "__main__":
    main()
