#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Clients for the upgrade test (stdlib only).  Run inside the test network
namespace; each moves itself into --cgroup before it opens a socket (steer's
socket-layer programs only see processes in their cgroup).

  upgrade_peer.py load --cgroup CG [--max-s S] [--interval-ms M] TARGET
      connect / read the identity line / close, in a loop, until a line (or EOF)
      arrives on stdin or S seconds (default 60) have passed; at most 100000
      connects.  Prints one JSON document:
        {"total": N, "counts": {IDENT: n}, "backends": {LOCAL: n},
         "errors": {ERRNO_NAME: n}, "failures": [[time, ERRNO_NAME], ...] (first 50),
         "peernames": [...], "ok_times": [t, ...], "max_gap_s": x}
      (times are time.time(): ok_times of every successful connect, max_gap_s
      the longest time between two consecutive ones).

  upgrade_peer.py hold --cgroup CG --tcp N TCP_TARGET --udp UDP_TARGET
      opens N long-lived TCP connections to TCP_TARGET (tc_peer.py serve-echo:
      each line is answered with "IDENT line") and one connected UDP socket to
      UDP_TARGET (tc_peer.py serve-udp: "IDENT PEER PEER_PORT LOCAL"), then does
      one round: a line on every TCP connection, a datagram on the UDP socket,
      and prints one JSON line
        {"tcp": [[IDENT, PEERNAME, ERR], ...], "udp": [IDENT, LOCAL, PEERNAME, ERR]}
      It does another round for each line read on stdin (at most 100), and exits
      at EOF.
"""
import argparse
import errno
import json
import os
import select
import socket
import sys
import time

sys.dont_write_bytecode = True
E2E = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e")
sys.path.insert(0, E2E)
from hostport import fmt_addr, parse_addr  # noqa: E402
from steer_probe import connect_once, join_cgroup  # noqa: E402

MAX_CONNECTS = 100000
MAX_ROUNDS = 100


def errname(e):
    if isinstance(e, socket.timeout):
        return "ETIMEDOUT"
    return errno.errorcode.get(e.errno, str(e.errno))


def stdin_ready():
    r, _, _ = select.select([sys.stdin], [], [], 0)
    return bool(r)


def load(a):
    fam, host, port = parse_addr(a.target)
    counts, backends, errors, failures, peers = {}, {}, {}, [], set()
    total, ok_times, max_gap = 0, [], 0.0
    deadline = time.monotonic() + a.max_s
    while total < MAX_CONNECTS and time.monotonic() < deadline and not stdin_ready():
        ident, err, peer, _src, backend, _n = connect_once(fam, host, port, None,
                                                           a.timeout_s)
        now = time.time()
        total += 1
        if ident:
            counts[ident] = counts.get(ident, 0) + 1
            if backend:
                backends[backend] = backends.get(backend, 0) + 1
            if ok_times:
                max_gap = max(max_gap, now - ok_times[-1])
            ok_times.append(now)
        else:
            errors[err] = errors.get(err, 0) + 1
            if len(failures) < 50:
                failures.append([now, err])
        if peer:
            peers.add(peer)
        if a.interval_ms:
            time.sleep(a.interval_ms / 1000.0)
    json.dump({"total": total, "counts": counts, "backends": backends,
               "errors": errors, "failures": failures, "peernames": sorted(peers),
               "ok_times": [round(t, 3) for t in ok_times], "max_gap_s": max_gap},
              sys.stdout)
    sys.stdout.write("\n")


def tcp_round(socks, k):
    out = []
    for fam, s in socks:
        try:
            s.sendall(f"ping {k}\n".encode())
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(256)
                if not chunk:
                    raise ConnectionResetError(errno.ECONNRESET, "closed")
                buf += chunk
            out.append([buf.split()[0].decode(), fmt_addr(fam, s.getpeername()), None])
        except OSError as e:
            out.append([None, None, errname(e)])
    return out


def udp_round(fam, s):
    try:
        s.send(b"ping\n")
        parts = s.recv(2048).decode(errors="replace").split()
        return [parts[0], parts[3] if len(parts) > 3 else None,
                fmt_addr(fam, s.getpeername()), None]
    except OSError as e:
        return [None, None, None, errname(e)]


def hold(a):
    socks = []
    for _ in range(a.tcp):
        fam, host, port = parse_addr(a.tcp_target)
        s = socket.create_connection((host, port), timeout=a.timeout_s)
        socks.append((fam, s))
    ufam, uhost, uport = parse_addr(a.udp)
    u = socket.socket(ufam, socket.SOCK_DGRAM)
    u.settimeout(a.timeout_s)
    u.connect((uhost, uport))
    for k in range(MAX_ROUNDS):
        print(json.dumps({"tcp": tcp_round(socks, k), "udp": udp_round(ufam, u)}),
              flush=True)
        if not sys.stdin.readline():
            break
    for _, s in socks:
        s.close()
    u.close()


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    lp = sub.add_parser("load")
    lp.add_argument("--cgroup", required=True)
    lp.add_argument("--max-s", type=float, default=60)
    lp.add_argument("--interval-ms", type=float, default=0)
    lp.add_argument("--timeout-s", type=float, default=2.0)
    lp.add_argument("target")
    hp = sub.add_parser("hold")
    hp.add_argument("--cgroup", required=True)
    hp.add_argument("--tcp", type=int, default=4)
    hp.add_argument("--udp", required=True)
    hp.add_argument("--timeout-s", type=float, default=2.0)
    hp.add_argument("tcp_target")
    a = ap.parse_args()
    if getattr(a, "max_s", 0) > 300 or getattr(a, "tcp", 0) > 64:
        ap.error("out of bounds")
    join_cgroup(a.cgroup)  # before any socket is opened
    load(a) if a.cmd == "load" else hold(a)


if __name__ == "__main__":
    main()
